"""app/core/errors.py: the exception tree its docstring draws is the tree the code defines."""

import inspect
import re

import app.core.errors as errors


def test_every_exported_name_exists_and_every_error_is_exported():
    defined = {name for name, obj in vars(errors).items()
               if inspect.isclass(obj) and issubclass(obj, Exception)}
    assert set(errors.__all__) == defined


def test_the_docstring_draws_each_class_under_its_real_parent():
    lines = [line for line in errors.__doc__.splitlines() if re.search(r"[├└]── |^    SceneVaultError", line)]
    stack: list[tuple[int, str]] = []
    drawn = set()
    for line in lines:
        name = re.search(r"(\w+)(?:\s|$)", line.split("── ")[-1].strip()).group(1)
        depth = 0 if "──" not in line else line.index("──") // 4
        stack = stack[:depth] + [(depth, name)]
        cls = getattr(errors, name)
        if depth:
            assert cls.__bases__ == (getattr(errors, stack[depth - 1][1]),), name
        drawn.add(name)
    assert drawn == set(errors.__all__)

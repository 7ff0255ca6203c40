import json, textwrap
from conftest import run_python

PRELUDE = """
import json, js, pagekit
from app.store import media
from app.startup import current_vault
vault = current_vault()
"""

def py(page, code):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))

def test_scratch(vault_page):
    r = py(vault_page, """
        project = await vault.create_project("dbg")
        voice = await vault.put_asset(project.id, "audio", "scene:1:narration", pagekit.wav_bytes(4000), "audio/wav")
        m = vault.preview_maker
        out = {"pending": m.pending, "worker": repr(m._worker)}
        await m.idle()
        out["after"] = repr(m._worker)
        try:
            out["exc"] = repr(m._worker.exception())
        except Exception as e:
            out["exc2"] = repr(e)
        out["attempts"] = m.attempts.get(voice.sha256)
        p = await vault.get_preview(voice.id)
        out["preview"] = None if p is None else p.size
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    print(r)

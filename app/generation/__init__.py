"""Generation (browser): the proxy client, the generate/regenerate/verify service and the
offline queue of generations asked for while the server is away.

    from app.generation.service import GenerationService
    from app.generation.client import ProxyClient
    service = GenerationService(vault, ProxyClient())
"""

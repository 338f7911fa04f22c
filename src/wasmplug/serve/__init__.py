"""Functions as a service: `wasmplug serve` runs deployed plug-ins behind HTTP, with a playground.

    from wasmplug.serve.app import create_app
    app = create_app()          # serve it with uvicorn
"""

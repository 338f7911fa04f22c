"""wasmplug serve: functions as a service. Deployed plug-ins run behind HTTP with per-function limits.

    from wasmplug.serve import ServerSettings, create_app
    app = create_app(ServerSettings(data_dir=Path("serve-data")))   # serve it with uvicorn

`wasmplug serve` runs it; `wasmplug deploy` puts a `.wasm`, `.js` or manifest
behind `/f/NAME/EXPORT` (or an HTTP route). See docs/serve.md.
"""

from .app import create_app
from .errors import DeployRejected, ServeError
from .settings import ServerSettings

__all__ = ["DeployRejected", "ServeError", "ServerSettings", "create_app"]

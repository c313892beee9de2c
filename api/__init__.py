"""The HTTP API: whisper-asr-webservice's endpoints, for Bazarr and the other clients of that
service, on the same pipeline and store as the CLI. ``cpwx api`` serves it alone (embedded);
``cpwx serve --api-port`` beside the Prefect server, each job a flow run in its UI."""

from ._app import ENGINE, create_app
from ._server import ApiError, serve_api

__all__ = ["ENGINE", "ApiError", "create_app", "serve_api"]

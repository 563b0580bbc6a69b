"""Azure OpenAI on the loopback server: ``POST /openai/deployments/{deployment}/chat/completions?api-version=V``
(point ``azure_endpoint`` at the server root). The key goes in ``api-key`` (a bearer key
is not accepted there); without ``api-version`` it answers 404 ``Resource not found``;
``models``, when set, lists the deployments (another gets 404 ``DeploymentNotFound``).
Then it answers as ``/v1/chat/completions`` does (tests/fakes/openai_chat.py)."""
from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .core import Handler, RecordedRequest


def deployment_of(path: str) -> Optional[str]:
    """The deployment of an Azure OpenAI chat path, else None."""
    parts = path.strip("/").split("/")
    if len(parts) == 5 and parts[:2] == ["openai", "deployments"] and parts[3:] == ["chat", "completions"]:
        return urllib.parse.unquote(parts[2])
    return None


def is_chat_path(path: str) -> bool:
    return deployment_of(path) is not None


class AzureOpenAI:
    def _azure_chat(self, h: "Handler", rec: "RecordedRequest") -> None:
        """Checked as Azure OpenAI checks it (api-version, ``api-key`` header, deployment), then `_chat`."""
        def azure_error(status: int, code: str, message: str) -> None:
            self._send(h, rec, status, json.dumps({"error": {"code": code, "message": message}}).encode())

        if not rec.query.get("api-version"):
            return azure_error(404, "404", "Resource not found")
        if self.api_key is not None and rec.headers.get("api-key") != self.api_key:
            return azure_error(401, "401", "Access denied due to invalid subscription key or wrong API "
                               "endpoint. Make sure to provide a valid key for an active subscription and "
                               "use a correct regional API endpoint for your resource.")
        if self.models is not None and deployment_of(rec.path) not in self.models:
            return azure_error(404, "DeploymentNotFound", "The API deployment for this resource does not "
                               "exist. If you created the deployment within the last 5 minutes, please "
                               "wait a moment and try again.")
        self._chat(h, rec)

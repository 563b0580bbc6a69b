"""OpenAI's Files and Batch API on the loopback server.

``POST /v1/files`` (multipart, ``purpose=batch``), ``GET /v1/files/{id}`` and ``/content``,
``POST /v1/batches`` (create; ``batch_creates`` counts them), ``GET /v1/batches`` (list,
newest first), ``GET /v1/batches/{id}`` (retrieve), ``POST /v1/batches/{id}/cancel``; under
``/openai/...`` with ``api-version`` and ``api-key`` for Azure.

Each retrieve moves a batch on: validating -> in_progress -> finalizing -> completed,
``batch_states`` saying how many polls each state takes (slow polling). At the end every
line's body goes through ``reply`` as a chat request would (tests/fakes/openai_chat.py's model
and parameter checks first): texts into the output file (a ``chat.completion`` with
usage), a `Fault` into the error file with its status (400: refused).
``push_batch_outcomes("failed" | "expired" | "cancelled")`` makes the next batches fail
validation, or end with only their first half run (the rest in the error file,
``batch_expired``); ``block_at(step, when, nth)`` holds a step (upload, create, retrieve,
content) so a test can kill the client there, then ``release()``.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Optional

from .faults import Fault, error_body, fault_error_body

if TYPE_CHECKING:
    from .core import Handler, RecordedRequest

ENDED = ("completed", "failed", "expired", "cancelled")


def is_batch_path(path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) >= 2 and parts[0] in ("v1", "openai") and parts[1] in ("files", "batches")


def _multipart(content_type: str, raw: bytes) -> Dict[str, Any]:
    """name -> (filename, bytes) of a multipart/form-data body."""
    boundary = content_type.partition("boundary=")[2].strip().strip('"')
    fields: Dict[str, Any] = {}
    if not boundary:
        return fields
    for part in raw.split(b"--" + boundary.encode()):
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        header = head.decode("utf-8", "replace")
        name = header.partition('name="')[2].partition('"')[0]
        filename = header.partition('filename="')[2].partition('"')[0] or None
        if name:
            fields[name] = (filename, data[:-2] if data.endswith(b"\r\n") else data)
    return fields


class BatchAPI:
    def _init_batch_api(self) -> None:
        self.files: Dict[str, Dict[str, Any]] = {}
        self.batches: Dict[str, Dict[str, Any]] = {}
        self.batch_creates = 0
        self.batch_states = {"validating": 1, "in_progress": 1, "finalizing": 1}
        self._batch_outcomes: Deque[str] = deque()
        self._block: Optional[Dict[str, Any]] = None
        self._step_counts: Counter = Counter()
        self.blocked = threading.Event()
        self._release = threading.Event()

    # ---- knobs

    def push_batch_outcomes(self, *outcomes: str) -> None:
        """How the next batches end: ``completed`` (the default), ``failed`` (at validation,
        nothing done), ``expired`` or ``cancelled`` (the first half of the lines done, the
        rest in the error file as not run)."""
        with self._lock:
            self._batch_outcomes.extend(outcomes)

    def block_at(self, step: str, when: str = "after", nth: int = 1) -> None:
        """Hold the ``nth`` request of a Batch API ``step`` (``upload``, ``create``, ``retrieve``,
        ``content``) and set ``blocked``; a test kills the client meanwhile, then calls
        `release`. ``before``: the request is then dropped undone (as if the client died before
        it arrived: answered 503); ``after``: it is done, and answered only after the release
        (the client died before it heard the answer)."""
        with self._lock:
            self._block = {"step": step, "when": when, "nth": nth}
            self._step_counts.clear()
            self.blocked.clear()
            self._release.clear()

    def release(self) -> None:
        with self._lock:
            self._block = None
        self._release.set()

    def _hold(self, step: str, when: str) -> bool:
        """Hold here if told to (see `block_at`); True: drop the request undone."""
        with self._lock:
            block = self._block
            if block is None or block["step"] != step:
                return False
            if when == "before":
                self._step_counts[step] += 1
            if block["when"] != when or self._step_counts[step] != block["nth"]:
                return False
        self.blocked.set()
        while not (self._release.is_set() or self._stopping.is_set()):
            self._release.wait(0.05)
        return when == "before"

    # ---- routes

    def _batch_api(self, h: "Handler", rec: "RecordedRequest") -> None:
        """``/v1/files``, ``/v1/files/{id}/content``, ``/v1/batches``, ``/v1/batches/{id}``,
        ``/v1/batches/{id}/cancel`` (Azure: ``/openai/...?api-version=V`` with ``api-key``)."""
        method, parts = rec.method, rec.path.strip("/").split("/")

        def answer(status: int, obj: Any) -> None:
            self._send(h, rec, status, json.dumps(obj).encode(), count=False)

        def error(status: int, message: str) -> None:
            self._send(h, rec, status, error_body(message, "invalid_request_error"), count=False)

        if parts[0] == "openai":
            if not rec.query.get("api-version"):
                return error(404, "Resource not found")
            key = rec.headers.get("api-key")
        else:
            key = self._bearer(rec)
        if self.api_key is not None and key != self.api_key:
            return error(401, "Incorrect API key provided.")
        rest = parts[2:]
        if parts[1] == "files":
            if method == "POST" and not rest:
                return self._upload(rec, answer, error)
            if method == "GET" and len(rest) == 2 and rest[1] == "content" and rest[0] in self.files:
                if self._hold("content", "before"):
                    return error(503, "dropped")
                data = self.files[rest[0]]["data"]
                self._hold("content", "after")
                return self._send(h, rec, 200, data, content_type="application/octet-stream", count=False)
            if method == "GET" and len(rest) == 1 and rest[0] in self.files:
                return answer(200, self._file_object(rest[0]))
            return error(404, f"No such File object: {rest[0] if rest else ''}")
        if method == "POST" and not rest:
            return self._create_batch(rec, answer, error)
        if method == "GET" and not rest:
            with self._lock:
                data = [self._batch_object(b) for b in reversed(list(self.batches.values()))]
            return answer(200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                "last_id": data[-1]["id"] if data else None, "has_more": False})
        batch = self.batches.get(rest[0]) if rest else None
        if batch is None:
            return error(404, f"No such Batch object: {rest[0] if rest else ''}")
        if method == "GET" and len(rest) == 1:
            if self._hold("retrieve", "before"):
                return error(503, "dropped")
            self._advance(batch)
            self._hold("retrieve", "after")
            return answer(200, self._batch_object(batch))
        if method == "POST" and rest[1:] == ["cancel"]:
            with self._lock:
                if batch["status"] not in ENDED:
                    batch["status"] = "cancelling"
            return answer(200, self._batch_object(batch))
        return error(404, "Unknown path")

    def _upload(self, rec: "RecordedRequest", answer: Callable, error: Callable) -> None:
        fields = _multipart(rec.headers.get("content-type", ""), rec.raw)
        if fields.get("purpose", (None, b""))[1] != b"batch" or "file" not in fields:
            return error(400, "a file and purpose=batch are required")
        if self._hold("upload", "before"):
            return error(503, "dropped")
        with self._lock:
            file_id = f"file-fake-{self._next_id()}"
            self.files[file_id] = {"data": fields["file"][1], "filename": fields["file"][0] or "upload.jsonl",
                                   "purpose": "batch", "created_at": int(time.time())}
        self._hold("upload", "after")
        answer(200, self._file_object(file_id))

    def _file_object(self, file_id: str) -> Dict[str, Any]:
        f = self.files[file_id]
        return {"id": file_id, "object": "file", "bytes": len(f["data"]), "created_at": f["created_at"],
                "filename": f["filename"], "purpose": f["purpose"], "status": "processed"}

    def _new_file(self, lines: List[Dict[str, Any]], purpose: str) -> Optional[str]:
        if not lines:
            return None
        file_id = f"file-fake-{self._next_id()}"
        self.files[file_id] = {"data": "".join(json.dumps(x) + "\n" for x in lines).encode(),
                               "filename": f"{purpose}.jsonl", "purpose": purpose, "created_at": int(time.time())}
        return file_id

    def _create_batch(self, rec: "RecordedRequest", answer: Callable, error: Callable) -> None:
        body = rec.body if isinstance(rec.body, dict) else {}
        file_id = body.get("input_file_id")
        if file_id not in self.files:
            return error(400, f"input_file_id {file_id!r} is not a file")
        if body.get("completion_window") != "24h" or body.get("endpoint") not in ("/v1/chat/completions",
                                                                                  "/chat/completions"):
            return error(400, "completion_window must be 24h and endpoint /v1/chat/completions")
        if self._hold("create", "before"):
            return error(503, "dropped")
        with self._lock:
            batch_id = f"batch_fake_{self._next_id()}"
            self.batch_creates += 1
            lines = [json.loads(x) for x in self.files[file_id]["data"].decode().splitlines() if x.strip()]
            self.batches[batch_id] = {
                "id": batch_id, "input_file_id": file_id, "endpoint": body["endpoint"], "status": "validating",
                "polls": 0, "created_at": int(time.time()), "lines": lines, "output_file_id": None,
                "error_file_id": None, "errors": None, "metadata": body.get("metadata"),
                "outcome": self._batch_outcomes.popleft() if self._batch_outcomes else "completed",
                "counts": {"total": 0, "completed": 0, "failed": 0}}
        self._hold("create", "after")
        answer(200, self._batch_object(self.batches[batch_id]))

    def _batch_object(self, b: Dict[str, Any]) -> Dict[str, Any]:
        return {"id": b["id"], "object": "batch", "endpoint": b["endpoint"], "errors": b["errors"],
                "input_file_id": b["input_file_id"], "completion_window": "24h", "status": b["status"],
                "output_file_id": b["output_file_id"], "error_file_id": b["error_file_id"],
                "created_at": b["created_at"], "expires_at": b["created_at"] + 86400,
                "request_counts": dict(b["counts"]), "metadata": b["metadata"]}

    def _advance(self, batch: Dict[str, Any]) -> None:
        """One poll's worth of progress: validating -> in_progress -> finalizing -> the end."""
        with self._lock:
            status = batch["status"]
            if status in ENDED:
                return
            batch["polls"] += 1
            if status == "cancelling":
                return self._finish(batch, "cancelled")
            if batch["polls"] < self.batch_states.get(status, 1):
                return
            batch["polls"] = 0
            if status == "validating":
                if batch["outcome"] == "failed":
                    batch["status"] = "failed"
                    batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "line": 1,
                                                                   "message": "the batch failed validation",
                                                                   "param": None}]}
                    return
                batch["status"] = "in_progress"
                batch["counts"]["total"] = len(batch["lines"])
            elif status == "in_progress":
                if batch["outcome"] in ("expired", "cancelled"):
                    return self._finish(batch, batch["outcome"])
                batch["status"] = "finalizing"
                batch["counts"]["completed"] = len(batch["lines"])
            elif status == "finalizing":
                self._finish(batch, "completed")

    def _finish(self, batch: Dict[str, Any], status: str) -> None:
        """Run the batch's lines (all, or the first half when it expired or was cancelled)
        through ``reply``, as the chat endpoint would, into output and error files."""
        lines = batch["lines"]
        run = len(lines) if status == "completed" else len(lines) // 2
        output, errors = [], []
        for n, line in enumerate(lines):
            ident = {"id": f"batch_req_{batch['id']}_{n}", "custom_id": line.get("custom_id")}
            if n >= run:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                errors.append({**ident, "response": None, "error": {
                    "code": code, "message": "This request could not be executed before the batch ended."}})
                continue
            body = line.get("body") or {}
            text = self._model_refusal(body.get("model"))
            if text is None and isinstance(body.get("messages"), list):
                text = self._parameter_refusal(body.get("model"), body)
            text = text or self._call_reply(body)
            if isinstance(text, Fault):
                code = int(text.kind) if text.kind.isdigit() else 500
                errors.append({**ident, "error": None, "response": {
                    "status_code": code, "request_id": f"req_{n}", "body": json.loads(fault_error_body(text, code))}})
            else:
                output.append({**ident, "error": None, "response": {
                    "status_code": 200, "request_id": f"req_{n}",
                    "body": self.chat_completion(body, str(text), self._next_id())}})
        batch["counts"] = {"total": len(lines), "completed": len(output), "failed": len(errors)}
        batch["output_file_id"] = self._new_file(output, "batch_output")
        batch["error_file_id"] = self._new_file(errors, "batch_output")
        batch["status"] = status

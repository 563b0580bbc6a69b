"""`run_pool`: many requests through one `ChatClient`, each result delivered as it
arrives (to be journaled), a fatal error stopping the batch."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Dict, Hashable, Iterable, List, Mapping, Optional, Tuple, Union

from mix_eval.llm.client import ChatClient
from mix_eval.llm.config import ClientConfig
from mix_eval.llm.errors import APIBadRequestError, FatalAPIError, TransientAPIError
from mix_eval.llm.results import ChatResult

__all__ = ["PoolRequest", "PoolCallback", "arun_pool", "run_pool"]

_PENDING = object()


PoolRequest = Tuple[Hashable, List[Dict[str, Any]], Optional[Mapping[str, Any]]]
PoolCallback = Callable[[Hashable, Union[ChatResult, Exception]], None]


async def arun_pool(client: Union[ChatClient, ClientConfig], requests: Iterable[PoolRequest],
                     on_result: Optional[PoolCallback] = None, *, progress: bool = False,
                     desc: str = "API requests") -> Dict[Hashable, Union[ChatResult, Exception]]:
    """`run_pool` for callers already in an event loop."""
    if isinstance(client, ClientConfig):
        client = ChatClient(client)
    total = len(requests) if hasattr(requests, "__len__") else None  # type: ignore[arg-type]
    iterator = iter(requests)
    results: Dict[Hashable, Any] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit="req", dynamic_ncols=True)

    async def worker() -> None:
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            try:
                key, messages, params = item
            except (TypeError, ValueError):
                raise ValueError("run_pool requests must be (key, messages, params) tuples") from None
            if key in results:
                raise ValueError(f"run_pool: duplicate request key {key!r}")
            results[key] = _PENDING
            outcome: Union[ChatResult, Exception]
            try:
                outcome = await client.generate(messages, **dict(params or {}))
            except (APIBadRequestError, TransientAPIError) as e:
                outcome = e
            results[key] = outcome
            if on_result is not None:
                on_result(key, outcome)
            if bar is not None:
                bar.update(1)

    n_workers = client.config.max_concurrency
    if total is not None:
        n_workers = max(1, min(n_workers, total))
    tasks = [asyncio.ensure_future(worker()) for _ in range(n_workers)]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        failed = [t for t in done if not t.cancelled() and t.exception() is not None]
        if failed:
            fatal = [t for t in failed if isinstance(t.exception(), FatalAPIError)]
            raise (fatal or failed)[0].exception()  # type: ignore[misc]
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if bar is not None:
            bar.close()
    return {k: v for k, v in results.items() if v is not _PENDING}


def run_pool(client: Union[ChatClient, ClientConfig], requests: Iterable[PoolRequest],
              on_result: Optional[PoolCallback] = None, progress: bool = False, *,
              desc: str = "API requests") -> Dict[Hashable, Union[ChatResult, Exception]]:
    """Send every ``(key, messages, params)`` request concurrently (bounded by the client).

    ``on_result(key, result_or_exception)`` is called as each one finishes (journal it).
    A request that fails on its own (`APIBadRequestError`, `TransientAPIError` after all
    retries) is delivered as that exception; a `FatalAPIError` (bad key, unknown model,
    quota, endless 429s) stops the batch and is raised. Returns ``{key: result}`` in
    input order. Keys must be unique. ``requests`` is consumed lazily.
    """
    chat = ChatClient(client) if isinstance(client, ClientConfig) else client

    async def main() -> Dict[Hashable, Union[ChatResult, Exception]]:
        try:
            return await arun_pool(chat, requests, on_result, progress=progress, desc=desc)
        finally:
            await chat.aclose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # Called from inside a running event loop (e.g. a notebook): run in a helper thread.
    box: Dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(main())
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    thread = threading.Thread(target=target, name="mix_eval-run_pool", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]

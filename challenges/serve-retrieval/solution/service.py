"""The retrieval service's HTTP layer, whatever index it serves (anything with ``search`` and
``upsert``): strict input, and the CPU work off the event loop.

Bodies are parsed and validated by hand so that every malformed request gets a 4xx with a JSON
body, whatever shape it has; searches and updates run in the threadpool, so a slow one never
stalls /health or the reading of other requests.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Protocol

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

MAX_QUERY_CHARS = 4096


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    query: Annotated[StrictStr, Field(max_length=MAX_QUERY_CHARS)]
    k: Annotated[StrictInt, Field(ge=1, le=100)] = 10


class Document(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    title: StrictStr
    text: StrictStr


class DocumentsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    documents: Annotated[list[Document], Field(min_length=1, max_length=1000)]


class Index(Protocol):
    def search(self, query: str, k: int) -> list[tuple[str, float]]: ...

    def upsert(self, docs: list[dict[str, str]]) -> int: ...


class BadRequest(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        self.status, self.detail = status, detail


async def parsed(request: Request, model: type[BaseModel]) -> Any:
    """The body as ``model``, or BadRequest (400: not JSON; 422: the wrong shape)."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, "the body is not JSON") from exc
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        raise BadRequest(422, errors) from exc


def create_app(index: Index) -> FastAPI:
    """The service's API over ``index``."""
    app = FastAPI()

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid request"}, status_code=422)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/search")
    async def search(request: Request) -> dict[str, list[dict[str, Any]]]:
        body: SearchBody = await parsed(request, SearchBody)
        found = await run_in_threadpool(index.search, body.query, body.k)
        return {"results": [{"id": doc_id, "score": score} for doc_id, score in found]}

    @app.post("/documents")
    async def documents(request: Request) -> dict[str, int]:
        body: DocumentsBody = await parsed(request, DocumentsBody)
        docs = [d.model_dump() for d in body.documents]
        return {"indexed": await run_in_threadpool(index.upsert, docs)}

    return app

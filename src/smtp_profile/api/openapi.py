"""Completing the generated OpenAPI document with what every API operation shares.

FastAPI documents each route's own responses; the rules that hold for all of
``/KeyfactorAPI`` (HTTP Basic, the Keyfactor headers, 400/401/403/429 in the
error format) are added here once, so the document matches what the service
answers and the fuzzing suite can hold the service to it. Pure: dict in, dict out.
"""

from __future__ import annotations

import copy
from typing import Any

Document = dict[str, Any]
ERROR_OUT = {"$ref": "#/components/schemas/ErrorOut"}
TEST_ERROR_OUT = {"$ref": "#/components/schemas/TestErrorOut"}
API_PREFIX = "/KeyfactorAPI/"
COMMON_ERRORS = {
    "400": "Invalid input, query or headers",
    "401": "No or bad credentials (WWW-Authenticate: Basic)",
    "403": "Not allowed for this role",
    "429": "Too many requests or failed sign-ins (Retry-After)",
}
API_VERSION_HEADER = {
    "name": "X-Keyfactor-Api-Version",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["1", "1.0", "2", "2.0"]},
}


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": ERROR_OUT}}}


def complete_document(generated: Document) -> Document:
    document = copy.deepcopy(generated)
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["basic"] = {"type": "http", "scheme": "basic"}
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for operation in operations.values():
            _complete_operation(operation)
    test = document.get("paths", {}).get("/KeyfactorAPI/SMTP/Test", {}).get("post")
    if test is not None:
        response = test["responses"]["400"]
        response["content"] = {
            "application/json": {"schema": {"anyOf": [ERROR_OUT, TEST_ERROR_OUT]}}
        }
        response["description"] = (
            "Invalid input or headers (ErrorOut), or the test failed (TestErrorOut)"
        )
    _document_health(document)
    return document


def _complete_operation(operation: dict[str, Any]) -> None:
    operation["security"] = [{"basic": []}]
    responses = operation.setdefault("responses", {})
    for status, text in COMMON_ERRORS.items():
        responses.setdefault(status, _error(text))
    parameters = operation.setdefault("parameters", [])
    names = {(parameter["name"].lower(), parameter["in"]) for parameter in parameters}
    if ("x-keyfactor-api-version", "header") not in names:
        parameters.append(dict(API_VERSION_HEADER))


def _document_health(document: Document) -> None:
    paths = document.get("paths", {})
    metrics = paths.get("/metrics", {}).get("get")
    if metrics is not None:
        metrics["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    ready = paths.get("/health/ready", {}).get("get")
    if ready is not None:
        ready["responses"].setdefault(
            "503",
            {
                "description": "The database does not answer",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        )

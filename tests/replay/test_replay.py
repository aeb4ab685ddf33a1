"""Every recorded history (tests/replay/histories/, written by `python -m tests.replay.record`)
replays against today's workflow code without nondeterminism, and every registered workflow
type has at least one. A change that would break running executions fails here, not in
production; see docs/workflows.md for how to change a workflow safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from services.codec import encrypted_converter, parse_key_ring
from tests.helpers import TEST_PAYLOAD_KEYS
from workflows.worker import WORKFLOWS

HISTORIES = Path(__file__).resolve().parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def _history(path: Path) -> WorkflowHistory:
    """The history under its recorded workflow ID (workflow code may read it)."""
    data = json.loads(path.read_text())
    return WorkflowHistory.from_json(data.pop("workflowId", None) or _derived_id(path, data), data)


def _derived_id(path: Path, data: dict) -> str:
    """For histories recorded before the ID was stored: rebuild it from the start input."""
    import base64

    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    if started["workflowType"]["name"] == "ReportRequestWorkflow":
        start = json.loads(base64.b64decode(started["input"]["payloads"][0]["data"]))
        return f"report-request-{start['request_id']}"
    return path.stem


def _workflow_type(path: Path) -> str:
    events = json.loads(path.read_text())["events"]
    return events[0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]


def _type_name(cls: type) -> str:
    definition = workflow._Definition.from_class(cls)
    assert definition is not None and definition.name, cls
    return definition.name


def test_every_registered_workflow_type_has_a_recorded_history() -> None:
    recorded = {_workflow_type(path) for path in FILES}
    missing = sorted(_type_name(cls) for cls in WORKFLOWS if _type_name(cls) not in recorded)
    assert not missing, f"no recorded history for {missing}: add a path to tests/replay/record.py and record it"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_recorded_history_replays_without_nondeterminism(path: Path) -> None:
    # The workers' converter: histories recorded before encryption pass through it unchanged,
    # newer ones were sealed with the test key ring.
    replayer = Replayer(workflows=WORKFLOWS, data_converter=encrypted_converter(parse_key_ring(TEST_PAYLOAD_KEYS)))
    result = await replayer.replay_workflow(_history(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"

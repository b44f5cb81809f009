"""Python-implemented tools and LoRA adapters over the bindings, on the real bundled model."""

import asyncio
import json
import os

import pytest

import trellis_ffi as ffi
from conftest import greedy

# A one-example prompt in the plain format of the base model: a call, then the answer.
FEW_SHOT = (
    "You answer questions and use tools when they help.\n\n"
    "Q: What is 2 plus 3?\n"
    'A: {"tool_calls":[{"name":"calculator","arguments":{"a":2,"operation":"add","b":3}}]}\n\n'
    "Q: Tool results:\ncalculator: 5\n"
    'A: {"answer":"5"}'
)

OPERATIONS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
}

CALC_SCHEMA = {
    "type": "object",
    "properties": {
        "a": {"type": "integer", "minimum": -1000, "maximum": 1000},
        "operation": {"enum": sorted(OPERATIONS)},
        "b": {"type": "integer", "minimum": -1000, "maximum": 1000},
    },
    "required": ["a", "operation", "b"],
    "additionalProperties": False,
}


def check_calc_arguments(args):
    """An independent check of the arguments against CALC_SCHEMA."""
    assert set(args) == {"a", "operation", "b"}, args
    for key in ("a", "b"):
        assert isinstance(args[key], int) and -1000 <= args[key] <= 1000, args
    assert args["operation"] in OPERATIONS, args


class Calculator(ffi.Tool):
    """A tool implemented in Python: records its calls, answers with the result."""

    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def name(self):
        return "calculator"

    def description(self):
        return "Computes a op b."

    def parameters_json(self):
        return json.dumps(CALC_SCHEMA)

    async def call(self, arguments_json):
        args = json.loads(arguments_json)
        self.calls.append(args)
        if self.fail:
            raise ValueError("the calculator is broken")
        await asyncio.sleep(0)  # a real coroutine, awaited by Rust
        return str(OPERATIONS[args["operation"]](args["a"], args["b"]))


def tool_options(**changes):
    options = ffi.default_tool_options()
    options.tool_choice = ffi.ToolChoice.REQUIRED
    for key, value in changes.items():
        setattr(options, key, value)
    return options


def calc_session(model, tool, **changes):
    return ffi.Session.with_tools(model, FEW_SHOT, greedy(48), [tool], tool_options(**changes))


@pytest.mark.parametrize("prompt", ["What is 12 plus 30?", "What is 6 times 7?"])
def test_model_calls_a_python_tool_and_answers_with_its_output(model, prompt):
    tool = Calculator()
    answer = asyncio.run(calc_session(model, tool, max_rounds=2).respond(prompt)).content
    assert tool.calls, "the tool was not called"
    for args in tool.calls:
        check_calc_arguments(args)
    last = tool.calls[-1]
    result = OPERATIONS[last["operation"]](last["a"], last["b"])
    assert str(result) in answer, (tool.calls, answer)


def test_tool_calls_and_outputs_are_in_the_transcript(model):
    tool = Calculator()
    session = calc_session(model, tool, max_rounds=2)
    asyncio.run(session.respond("What is 12 plus 30?"))
    entries = json.loads(session.transcript_json())
    text = json.dumps(entries)
    first = tool.calls[0]
    assert '"calculator"' in text
    assert str(OPERATIONS[first["operation"]](first["a"], first["b"])) in text


def test_a_failing_python_tool_is_a_tool_call_error(model):
    tool = Calculator(fail=True)
    with pytest.raises(ffi.TrellisError.ToolCall) as err:
        asyncio.run(calc_session(model, tool, max_rounds=1).respond("What is 6 times 7?"))
    assert err.value.tool == "calculator"
    assert "the calculator is broken" in err.value.reason
    assert len(tool.calls) == 1


def test_a_failing_tool_can_report_to_the_model(model):
    tool = Calculator(fail=True)
    session = calc_session(
        model, tool, max_rounds=1, on_error=ffi.ToolErrorPolicy.REPORT_TO_MODEL
    )
    try:
        asyncio.run(session.respond("What is 6 times 7?"))
    except ffi.TrellisError.ToolRoundsExceeded:
        pass  # the model may call again after its only round; the output is recorded anyway
    assert "Error: " in session.transcript_json()
    assert "the calculator is broken" in session.transcript_json()


class BadSchema(Calculator):
    def parameters_json(self):
        return "{not json"


def test_a_tool_with_a_bad_schema_is_refused(model):
    with pytest.raises(ffi.TrellisError.InvalidTool) as err:
        ffi.Session.with_tools(model, None, None, [BadSchema()], None)
    assert err.value.tool == "calculator"


def test_two_tools_with_one_name_are_refused(model):
    with pytest.raises(ffi.TrellisError.InvalidTool):
        ffi.Session.with_tools(model, None, None, [Calculator(), Calculator()], None)


def test_zero_rounds_are_invalid_options(model):
    with pytest.raises(ffi.TrellisError.InvalidOptions):
        ffi.Session.with_tools(model, None, None, [Calculator()], tool_options(max_rounds=0))


# ---- LoRA adapters --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adapter_path(model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("adapters") / "random.gguf")
    ffi.write_random_adapter(model, path, "py-test-adapter", 4, 2026)
    return path


def test_adapter_loads_with_its_metadata(model, adapter_path):
    adapter = ffi.Adapter.load(model, adapter_path)
    assert adapter.path() == adapter_path
    assert adapter.name() == "py-test-adapter"
    assert adapter.rank() == 4
    assert adapter.alpha() == 4.0
    targets = adapter.targets()
    suffixes = ("attn_q.weight", "attn_v.weight", "ffn_up.weight")
    assert targets and all(t.endswith(suffixes) for t in targets)
    metadata = {m.key: m.value for m in adapter.metadata()}
    assert metadata["general.name"] == "py-test-adapter"
    assert "write_random_adapter" in metadata["training.creator"]
    assert adapter.belongs_to(model)


def test_attached_adapter_changes_the_answer_and_detaches(model, adapter_path):
    adapter = ffi.Adapter.load(model, adapter_path)
    prompt = "What do cats like to do?"
    base = asyncio.run(ffi.Session(model, None, greedy(24)).respond(prompt)).content

    adapted = ffi.Session(model, None, greedy(24))
    adapted.set_adapter(adapter, 1.0)
    attached = adapted.attached_adapter()
    assert attached is not None and attached.scale == 1.0
    assert attached.adapter.path() == adapter_path
    assert asyncio.run(adapted.respond(prompt)).content != base

    detached = ffi.Session(model, None, greedy(24))
    detached.set_adapter(adapter, 1.0)
    detached.clear_adapter()
    assert detached.attached_adapter() is None
    assert asyncio.run(detached.respond(prompt)).content == base


def test_non_finite_scale_is_refused(model, adapter_path):
    session = ffi.Session(model, None, None)
    with pytest.raises(ffi.TrellisError.InvalidOptions):
        session.set_adapter(ffi.Adapter.load(model, adapter_path), float("nan"))
    assert session.attached_adapter() is None


def test_missing_adapter_file_is_an_io_error(model, tmp_path):
    with pytest.raises(ffi.TrellisError.Io):
        ffi.Adapter.load(model, str(tmp_path / "nope.gguf"))


def test_a_model_file_is_not_an_adapter(model):
    with pytest.raises(ffi.TrellisError.Adapter) as err:
        ffi.Adapter.load(model, model.path())
    assert err.value.path == model.path()


def test_bad_rank_is_refused(model, tmp_path):
    with pytest.raises(ffi.TrellisError.Adapter):
        ffi.write_random_adapter(model, str(tmp_path / "x.gguf"), "x", 0, 1)
    assert not os.path.exists(tmp_path / "x.gguf")


def test_stacked_adapters(model, adapter_path, tmp_path):
    second_path = str(tmp_path / "second.gguf")
    ffi.write_random_adapter(model, second_path, "second", 2, 7)
    first = ffi.Adapter.load(model, adapter_path)
    second = ffi.Adapter.load(model, second_path)
    assert second.rank() == 2 and second.alpha() == 2.0

    prompt = "What do cats like to do?"
    single = ffi.Session(model, None, greedy(24))
    single.set_adapter(first, 1.0)
    single_answer = asyncio.run(single.respond(prompt)).content

    stacked = ffi.Session(model, None, greedy(24))
    stacked.set_adapters(
        [ffi.AttachedAdapter(adapter=first, scale=1.0), ffi.AttachedAdapter(adapter=second, scale=0.5)]
    )
    attached = stacked.attached_adapters()
    assert [(a.adapter.name(), a.scale) for a in attached] == [("py-test-adapter", 1.0), ("second", 0.5)]
    assert stacked.attached_adapter().adapter.name() == "py-test-adapter"
    assert asyncio.run(stacked.respond(prompt)).content != single_answer

    # An adapter listed twice is refused and leaves the attachment unchanged.
    with pytest.raises(ffi.TrellisError.InvalidOptions):
        stacked.set_adapters(
            [ffi.AttachedAdapter(adapter=first, scale=1.0), ffi.AttachedAdapter(adapter=first, scale=0.5)]
        )
    assert len(stacked.attached_adapters()) == 2
    stacked.set_adapters([])
    assert stacked.attached_adapters() == []

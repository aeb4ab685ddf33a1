"""Every user-facing string has Vietnamese (and labels English) in the gettext catalogs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def _catalog(locale: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((ROOT / "web" / "locales" / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            merged.update({m.id: m.string for m in read_po(handle) if m.id and m.string})
    return merged


CODE = ("services", "workflows", "meetings", "signing", "dashboard", "web")


def _msgids() -> set[str]:
    """Templates and `_()` in web, and every `_l()` (errors, notifications) in the code."""
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    found = set()
    for package in CODE:
        for _, _, message, _, _ in extract_from_dir(str(ROOT / package), method_map, options, keywords=keywords):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _own_arguments(cls: ast.ClassDef) -> bool:
    """An error whose constructor takes something else than the message (a reason for the log)."""
    init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    return init is not None and [a.arg for a in init.args.args[1:2]] != ["message"]


def _error_classes(trees: list[ast.Module]) -> set[str]:
    names = {"DomainError"}
    while True:
        more = {
            c.name
            for t in trees
            for c in ast.walk(t)
            if isinstance(c, ast.ClassDef)
            and any(getattr(b, "id", getattr(b, "attr", None)) in names for b in c.bases)
            and not _own_arguments(c)
        }
        if more <= names:
            return names
        names |= more


def test_domain_errors_take_a_catalogue_message() -> None:
    """`InvalidInput(_l("English"))`, never text in the code (a (vi, en) pair or an f-string)."""
    paths = [p for d in CODE for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts]
    trees = [ast.parse(p.read_text()) for p in paths]
    errors = _error_classes(trees)
    bad = []
    for path, tree in zip(paths, trees):
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", None)) in errors:
                if any(isinstance(a, ast.JoinedStr) or (isinstance(a, ast.Constant) and isinstance(a.value, str)) for a in call.args):
                    bad.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not bad, f'write the message as _l("English", name=value) with its Vietnamese in a catalogue: {bad}'


def test_every_message_has_a_vietnamese_translation() -> None:
    vi = _catalog("vi")
    missing = sorted(m for m in _msgids() if not vi.get(m))
    assert not missing, f"add these to a catalog in web/locales/vi/LC_MESSAGES/: {missing}"


def audit_actions() -> set[str]:
    """Every action code the code writes to the trail: `record(action="…")`, the codes a helper passes
    on (`_audit(…, "incoming.register")`, `action = {…}.get(step, "task.escalate")`) and the
    f-string `incoming.sender_{kind}` (its kinds are checked by `sender_withdrew`)."""
    code = re.compile(r"^[a-z_]+\.[a-z_]+(\.[a-z_]+)*$")
    found: set[str] = {"incoming.sender_recall", "incoming.sender_replace"}

    def constants(node: ast.AST) -> set[str]:
        return {
            n.value
            for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and code.match(n.value) and not n.value.endswith("_")
        }

    sources = [p for d in ("services", "web", "workflows", "meetings", "signing", "dashboard") for p in (ROOT / d).rglob("*.py")]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "action":
                found |= constants(node.value)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "action" for t in node.targets):
                found |= constants(node.value)
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "_audit":
                found |= {c for arg in node.args for c in constants(arg)}
    return found


def test_audit_actions_are_found_where_helpers_pass_them_on() -> None:
    actions = audit_actions()
    assert {"incoming.register", "task.escalate", "minutes.overdue", "auth.login", "incoming.sender_recall"} <= actions


class _Any:
    """A parameter value any placeholder accepts (`{due:%d/%m/%Y}`, `{n}`)."""

    def __format__(self, spec: str) -> str:
        return "·"


def test_every_message_renders_with_the_parameters_its_call_passes() -> None:
    """A translation using a placeholder the code does not pass would fail when shown."""
    from services.i18n import Message

    failed = []
    for path in (p for d in CODE for p in (ROOT / d).rglob("*.py")):
        for call in ast.walk(ast.parse(path.read_text())):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "_l" and call.args:
                first = call.args[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    failed.append(f"{path.relative_to(ROOT)}:{call.lineno}: the msgid must be a literal")
                    continue
                message = Message(first.value, {k.arg: _Any() for k in call.keywords if k.arg})
                for locale in ("vi", "en"):
                    try:
                        message.render(locale)
                    except (KeyError, IndexError, ValueError) as exc:
                        failed.append(f"{path.relative_to(ROOT)}:{call.lineno} ({locale}): {exc!r}")
    assert not failed, failed


def test_every_audit_action_and_enum_has_labels_in_both_languages() -> None:
    from services.directory.models import Level, Role

    keys = {f"action.{a}" for a in audit_actions()} | {f"role.{r.value}" for r in Role} | {f"level.{lv.value}" for lv in Level}
    vi, en = _catalog("vi"), _catalog("en")
    missing = sorted(k for k in keys if not vi.get(k) or not en.get(k))
    assert not missing, f"labels without a translation: {missing}"


def test_each_message_has_one_translation_across_catalogs() -> None:
    """Catalogs are merged: the same msgid translated two ways would show the wrong words somewhere."""
    for locale in ("vi", "en"):
        seen: dict[str, set[str]] = {}
        for path in sorted((ROOT / "web" / "locales" / locale / "LC_MESSAGES").glob("*.po")):
            with path.open("rb") as handle:
                for message in read_po(handle):
                    if message.id and message.string:
                        seen.setdefault(message.id, set()).add(message.string)
        conflicts = {k: v for k, v in seen.items() if len(v) > 1}
        assert not conflicts, f"{locale}: use one translation or a more specific msgid: {conflicts}"


def test_every_audited_object_kind_has_a_name_in_both_languages() -> None:
    """The audit pages name an object's kind ("Văn bản đến"), never its internal type ("incoming")."""
    kinds: set[str] = set()
    sources = [p for d in ("services", "web", "workflows", "meetings", "signing") for p in (ROOT / d).rglob("*.py")]
    for path in sources:
        kinds |= set(re.findall(r'object_type="([a-z_]+)"', path.read_text()))
    vi, en = _catalog("vi"), _catalog("en")
    missing = sorted(f"object.{k}" for k in kinds if not vi.get(f"object.{k}") or not en.get(f"object.{k}"))
    assert kinds and not missing, f"object kinds without a name: {missing}"


def system_actors() -> set[str]:
    """The names of the system's own processes in the trail: `Actor.system("outgoing-workflow")`
    (no name: "system"), demo seeding included."""
    names: set[str] = set()
    for path in (p for d in (*CODE, "demo") for p in (ROOT / d).rglob("*.py")):
        names |= {name or "system" for name in re.findall(r'Actor\.system\(\s*(?:"([^"]*)")?\s*\)', path.read_text())}
    return names


def test_every_system_actor_has_a_name_in_both_languages() -> None:
    """The audit pages say "Hệ thống (quy trình văn bản đi)", never a process's internal name."""
    names = system_actors()
    vi, en = _catalog("vi"), _catalog("en")
    missing = sorted(f"actor.{n}" for n in names if not vi.get(f"actor.{n}") or not en.get(f"actor.{n}"))
    assert {"system", "outgoing-workflow", "signature-check", "exchange"} <= names and not missing, (
        f"system actors without a name: {missing}"
    )


# The functions that write an entry's details: `record(details=…)`, `record_failure(details=…)` and
# the domains' `_audit(…, key=value)` helpers (their own parameters are not details).
_DETAIL_WRITERS = {"record", "record_failure", "_audit"}
_AUDIT_HELPER_PARAMETERS = {"session", "actor", "doc", "sub", "action"}


def audit_detail_keys() -> set[str]:
    """Every key the code writes into an entry's details: the keys of the dict given (followed
    through local variables, `details["k"] = …`, `{**other}`, `a | b` and the module's own helpers
    returning a dict), the keyword arguments of `_audit` helpers, and the fields a changed-fields
    diff may name (`diff[key] = …` for the keys of the function's `allowed = {…}`)."""
    found: set[str] = set()
    for path in (p for d in CODE for p in (ROOT / d).rglob("*.py")):
        tree = ast.parse(path.read_text())
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        helpers = {f.name: f for f in functions}
        for function in functions:

            def of_name(name: str, seen: frozenset[str], function: ast.AST = function) -> set[str]:
                keys: set[str] = set()
                if name in seen:
                    return keys
                for node in ast.walk(function):
                    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                            keys |= of(node.value, seen | {name})
                        if any(isinstance(t, ast.Name) and t.id == "allowed" for t in targets) and isinstance(node.value, ast.Set):
                            allowed = {c.value for c in node.value.elts if isinstance(c, ast.Constant) and isinstance(c.value, str)}
                            if any(
                                isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and getattr(n.value, "id", None) == name
                                for n in ast.walk(function)
                            ):
                                keys |= allowed
                    if (
                        isinstance(node, ast.Subscript)
                        and isinstance(node.ctx, ast.Store)
                        and getattr(node.value, "id", None) == name
                        and isinstance(node.slice, ast.Constant)
                    ):
                        keys.add(node.slice.value)
                return keys

            def of(node: ast.AST, seen: frozenset[str] = frozenset()) -> set[str]:
                keys: set[str] = set()
                if isinstance(node, ast.Dict):
                    for key, value in zip(node.keys, node.values):
                        if key is None:
                            keys |= of(value, seen)
                        elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                            keys.add(key.value)
                elif isinstance(node, ast.Name):
                    keys |= of_name(node.id, seen)
                elif isinstance(node, ast.Await):
                    keys |= of(node.value, seen)
                elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in helpers:
                    helper = helpers[getattr(node.func, "id", getattr(node.func, "attr", ""))]
                    if helper.args.kwarg is not None:
                        keys |= {k.arg for k in node.keywords if k.arg}
                    keys |= {k for r in ast.walk(helper) if isinstance(r, ast.Return) and r.value is not None for k in of(r.value, seen)}
                elif isinstance(node, (ast.IfExp, ast.BoolOp, ast.BinOp)):
                    for child in ast.iter_child_nodes(node):
                        keys |= of(child, seen)
                return keys

            for call in ast.walk(function):
                name = getattr(getattr(call, "func", None), "attr", getattr(getattr(call, "func", None), "id", None))
                if not isinstance(call, ast.Call) or name not in _DETAIL_WRITERS:
                    continue
                for keyword in call.keywords:
                    if keyword.arg == "details" or (name == "_audit" and keyword.arg is None):
                        found |= of(keyword.value)
                    elif name == "_audit" and keyword.arg not in _AUDIT_HELPER_PARAMETERS:
                        found.add(keyword.arg)
    return found


def test_audit_detail_keys_are_found_through_variables_helpers_and_diffs() -> None:
    keys = audit_detail_keys()
    # a literal, `details["k"] =`, an `_audit` keyword, a helper's dict, a local variable, a diff field
    assert {"number_notation", "pades_level", "to_user", "fingerprint", "lead_user_id", "abbreviation"} <= keys


def test_every_audit_detail_has_a_label_in_both_languages() -> None:
    """The audit pages name each detail ("Số, ký hiệu"), never by its key ("number_notation")."""
    vi, en = _catalog("vi"), _catalog("en")
    missing = sorted(f"detail.{k}" for k in audit_detail_keys() if not vi.get(f"detail.{k}") or not en.get(f"detail.{k}"))
    assert not missing, f"audit details without a label: {missing}"

"""Reading MMPose-format dataset descriptions as data (never executed)."""

import ast
import json
import os

# Longest list a `[x] * n` expression may build; guards against `[0] * 10**12`.
_MAX_REPEAT = 1_000_000
_VARIABLE = "dataset_info"


def _received(node):
    text = ast.unparse(node)
    if len(text) > 80:
        text = text[:77] + "..."
    return text


class _LiteralEvaluator:
    """Evaluates the literal subset of Python used by description files."""

    def __init__(self, path):
        self.path = path

    def error(self, node, problem):
        line = getattr(node, "lineno", "?")
        return ValueError(
            f"Keypoint description file '{self.path}', line {line}: {problem} "
            "Description files are data: only dict/list/tuple literals, "
            "`dict(key=value)` calls, numbers, strings, unary minus and list "
            "`+`/`*` are allowed, and nothing is executed. "
            f"Received: {_received(node)}"
        )

    def __call__(self, node):
        method = getattr(self, "_eval_" + type(node).__name__, None)
        if method is None:
            raise self.error(node, f"unsupported expression ({type(node).__name__}).")
        return method(node)

    def _eval_Constant(self, node):
        if isinstance(node.value, (bytes, complex)) or node.value is Ellipsis:
            raise self.error(node, "unsupported constant.")
        return node.value

    def _eval_List(self, node):
        return [self(e) for e in node.elts]

    def _eval_Tuple(self, node):
        return tuple(self(e) for e in node.elts)

    def _eval_Dict(self, node):
        result = {}
        for key_node, value_node in zip(node.keys, node.values):
            if key_node is None:
                raise self.error(value_node, "`**` unpacking is not allowed.")
            key = self(key_node)
            if isinstance(key, (list, dict)):
                raise self.error(key_node, "dict keys must be numbers or strings.")
            if key in result:
                raise self.error(key_node, f"duplicated dict key {key!r}.")
            result[key] = self(value_node)
        return result

    def _eval_Call(self, node):
        if not (isinstance(node.func, ast.Name) and node.func.id == "dict"):
            raise self.error(node, "function calls other than `dict(...)` are not allowed.")
        if node.args:
            raise self.error(node, "`dict(...)` takes keyword arguments only.")
        result = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.error(node, "`**` unpacking is not allowed.")
            if keyword.arg in result:
                raise self.error(node, f"duplicated keyword {keyword.arg!r}.")
            result[keyword.arg] = self(keyword.value)
        return result

    def _eval_UnaryOp(self, node):
        value = self(node.operand)
        if not _is_number(value) or not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise self.error(node, "only unary minus/plus on numbers is allowed.")
        return -value if isinstance(node.op, ast.USub) else value

    def _eval_BinOp(self, node):
        left, right = self(node.left), self(node.right)
        sequence = (list, tuple)
        if isinstance(node.op, ast.Add):
            both_numbers = _is_number(left) and _is_number(right)
            same_sequence = isinstance(left, sequence) and type(left) is type(right)
            if both_numbers or same_sequence or (isinstance(left, str) and isinstance(right, str)):
                return left + right
        elif isinstance(node.op, ast.Mult):
            if isinstance(left, sequence) and _is_int(right):
                count = right
            elif isinstance(right, sequence) and _is_int(left):
                left, count = right, left
            elif _is_number(left) and _is_number(right):
                return left * right
            else:
                count = None
            if count is not None:
                if count * max(len(left), 1) > _MAX_REPEAT:
                    raise self.error(node, f"list repetition longer than {_MAX_REPEAT}.")
                return left * count
        elif isinstance(node.op, (ast.Sub, ast.Div)):
            if _is_number(left) and _is_number(right):
                if isinstance(node.op, ast.Sub):
                    return left - right
                if right == 0:
                    raise self.error(node, "division by zero.")
                return left / right
        raise self.error(node, "unsupported arithmetic.")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def parse_dataset_info_source(text, path="<string>"):
    """Returns the `dataset_info` dict of Python source `text`, parsed as data.

    Top-level statements may be string expressions (docstrings) and assignments
    of literal values to plain names; the `dataset_info` assignment is returned.
    Anything else (imports, function calls, definitions) is rejected unexecuted.
    """
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as e:
        raise ValueError(
            f"Keypoint description file '{path}' is not parseable Python "
            f"(line {e.lineno}: {e.msg}). Received: {(e.text or '').strip()!r}"
        ) from None
    evaluator = _LiteralEvaluator(path)
    values = {}
    for statement in tree.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            if isinstance(statement.value.value, str):
                continue
        if isinstance(statement, ast.Assign) and all(
            isinstance(t, ast.Name) for t in statement.targets
        ):
            value = evaluator(statement.value)
            for target in statement.targets:
                values[target.id] = value
            continue
        raise evaluator.error(
            statement,
            f"only `name = <literal>` assignments are allowed at top level, "
            f"found a {type(statement).__name__} statement.",
        )
    if _VARIABLE not in values:
        raise ValueError(
            f"Keypoint description file '{path}' has no `{_VARIABLE} = dict(...)` "
            f"assignment. Received: top-level names {sorted(values)}"
        )
    info = values[_VARIABLE]
    if not isinstance(info, dict):
        raise ValueError(
            f"Keypoint description file '{path}': `{_VARIABLE}` must be a dict. "
            f"Received: {type(info).__name__}"
        )
    return info


def _json_object(pairs, path):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(
                f"Keypoint description file '{path}': duplicated JSON key {key!r}. "
                f"Received: {key!r}"
            )
        result[key] = value
    return result


def read_dataset_info(path):
    """Reads an MMPose-format description (`.py` parsed as data, or `.json`).

    Args:
        path: str. A `.py` file with a `dataset_info = dict(...)` assignment, or a
            `.json` file holding the same dict (or `{"dataset_info": {...}}`).

    Returns:
        The raw `dataset_info` dict.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Keypoint description file '{path}' does not exist. Received: {path!r}")
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".py", ".json"):
        raise ValueError(
            f"Keypoint description file '{path}' must end in `.py` or `.json`. "
            f"Received: extension={extension!r}"
        )
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if extension == ".py":
        return parse_dataset_info_source(text, path)
    try:
        info = json.loads(text, object_pairs_hook=lambda pairs: _json_object(pairs, path))
    except json.JSONDecodeError as e:
        raise ValueError(
            f"Keypoint description file '{path}' is not valid JSON "
            f"(line {e.lineno}, column {e.colno}: {e.msg}). Received: {text[:60]!r}"
        ) from None
    if isinstance(info, dict) and set(info) == {_VARIABLE}:
        info = info[_VARIABLE]
    if not isinstance(info, dict):
        raise ValueError(
            f"Keypoint description file '{path}' must hold a JSON object. "
            f"Received: {type(info).__name__}"
        )
    return info

"""A Java answer and HumanEval-X's Java test, made into a program the sandbox can judge.

The answer's classes go into package `cand` (so none of them can shadow a name the tests
use: the tests stay in the default package, where only they live). The tests call a
trusted facade, `cand.JudgedSolution`, with the declaration's methods: each calls the
answer and copies what it returns into plain JDK values (String, boxed numbers, lists,
maps, sets, Optional, arrays) before the tests compare it, so an answer cannot return an
object whose equals() lies. The facade names every type by a single-type import, which
no class of the answer's package can shadow.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

JDK_TYPES = {
    "NoSuchAlgorithmException": "java.security.NoSuchAlgorithmException",
    **{n: "java.util." + n for n in "List ArrayList Map HashMap Set HashSet Optional Collection".split()},
    **{
        n: "java.lang." + n
        for n in "Object String Integer Long Double Float Short Byte Boolean Character".split()
    },
}
PRIMITIVES = {"void", "int", "long", "double", "float", "short", "byte", "boolean", "char"}
_SIGNATURE = re.compile(
    r"public\s+(?:static\s+)?(?P<ret>[\w<>\[\],? ]+?)\s+(?P<name>\w+)\s*"
    r"\((?P<params>[^)]*)\)\s*(?:throws\s+(?P<throws>[\w\s,.]+?))?\s*\{"
)


class UnsupportedDeclaration(ValueError):
    """The declaration uses a type the facade cannot copy safely."""


class Method(BaseModel):
    ret: str
    name: str
    params: list[tuple[str, str]]  # (type, name)
    throws: str = ""


def _split_params(params: str) -> list[tuple[str, str]]:
    parts, depth, current = [], 0, ""
    for ch in params:
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    out = []
    for part in parts:
        kind, _, name = part.strip().rpartition(" ")
        out.append((" ".join(kind.split()), name))
    return out


def methods(declaration: str) -> list[Method]:
    return [
        Method(
            ret=" ".join(m["ret"].split()),
            name=m["name"],
            params=_split_params(m["params"]),
            throws=" ".join((m["throws"] or "").split()),
        )
        for m in _SIGNATURE.finditer(declaration)
    ]


def _type_names(text: str) -> set[str]:
    return set(re.findall(r"\b[A-Z]\w*", text))


def facade(declaration: str, called: set[str]) -> str:
    """cand.JudgedSolution: the declaration's methods the tests call, each copying the
    answer's result into plain JDK values."""
    chosen = [m for m in methods(declaration) if m.name in called]
    used = {"Object", "String", "Integer", "Long", "Double", "Float", "Short", "Byte", "Boolean", "Character"}
    used |= {"List", "ArrayList", "Map", "HashMap", "Set", "HashSet", "Optional"}
    for m in chosen:
        used |= _type_names(m.ret + " " + " ".join(t for t, _ in m.params) + " " + m.throws)
    unknown = sorted(used - set(JDK_TYPES))
    if unknown:
        raise UnsupportedDeclaration(f"types the judge cannot copy: {', '.join(unknown)}")
    imports = "".join(f"import {JDK_TYPES[n]};\n" for n in sorted(used))
    imports += "import java.lang.IllegalStateException;\n"
    body = []
    for m in chosen:
        params = ", ".join(f"{t} {n}" for t, n in m.params)
        args = ", ".join(n for _, n in m.params)
        call = f"inner.{m.name}({args})"
        if m.ret == "void":
            line = f"{call};"
        elif m.ret in PRIMITIVES:
            line = f"return {call};"
        else:
            line = f"return ({m.ret}) plain({call});"
        throws = f" throws {m.throws}" if m.throws else ""
        body.append(f"    public {m.ret} {m.name}({params}){throws} {{\n        {line}\n    }}\n")
    return (
        "package cand;\n\n"
        + imports
        + '\n@SuppressWarnings({"unchecked", "rawtypes"})\npublic final class JudgedSolution {\n'
        + "    private final Solution inner = new Solution();\n\n"
        + "\n".join(body)
        + PLAIN
        + "}\n"
    )


# Final JDK classes are taken as they are; containers are rebuilt element by element (the
# answer's iterator runs once, its values are what the tests see); anything else is refused.
PLAIN = """
    private static Object plain(Object v) {
        if (v == null) {
            return null;
        }
        Class<?> c = v.getClass();
        if (c == String.class || c == Integer.class || c == Long.class || c == Double.class
                || c == Float.class || c == Short.class || c == Byte.class || c == Boolean.class
                || c == Character.class) {
            return v;
        }
        if (c == Optional.class) {
            Optional<?> o = (Optional<?>) v;
            return o.isPresent() ? Optional.of(plain(o.get())) : Optional.empty();
        }
        if (v instanceof int[]) {
            return ((int[]) v).clone();
        }
        if (v instanceof long[]) {
            return ((long[]) v).clone();
        }
        if (v instanceof double[]) {
            return ((double[]) v).clone();
        }
        if (v instanceof boolean[]) {
            return ((boolean[]) v).clone();
        }
        if (v instanceof char[]) {
            return ((char[]) v).clone();
        }
        if (v instanceof Object[]) {
            Object[] a = ((Object[]) v).clone();
            Object[] out = new Object[a.length];
            for (int i = 0; i < a.length; i++) {
                out[i] = plain(a[i]);
            }
            return out;
        }
        if (v instanceof List) {
            ArrayList<Object> out = new ArrayList<>();
            for (Object e : (List<?>) v) {
                out.add(plain(e));
            }
            return out;
        }
        if (v instanceof Set) {
            HashSet<Object> out = new HashSet<>();
            for (Object e : (Set<?>) v) {
                out.add(plain(e));
            }
            return out;
        }
        if (v instanceof Map) {
            HashMap<Object, Object> out = new HashMap<>();
            for (Object e : ((Map<?, ?>) v).entrySet()) {
                Map.Entry<?, ?> entry = (Map.Entry<?, ?>) e;
                out.put(plain(entry.getKey()), plain(entry.getValue()));
            }
            return out;
        }
        throw new IllegalStateException("the answer returned a " + c.getName()
                + ", which the judge does not take: return JDK types");
    }
"""


def _imports(declaration: str) -> str:
    return "".join(line + "\n" for line in declaration.splitlines() if line.strip().startswith("import "))


def answer_source(code: str) -> str:
    """The answer in package `cand`: its own package line dropped, its top-level public
    classes other than Solution made package-private (one file holds them all)."""
    lines = [line for line in code.splitlines() if not re.match(r"\s*package\s+[\w.]+\s*;", line)]
    text = "\n".join(lines)
    text = re.sub(
        r"^public\s+((?:final\s+|abstract\s+)*)(class|interface|enum|record)\s+(?!Solution\b)",
        r"\1\2 ",
        text,
        flags=re.MULTILINE,
    )
    return "package cand;\n" + text + "\n"


def judged_sources(declaration: str, test: str, code: str) -> dict[str, str]:
    """The files of the judged program: the answer, the facade and the tests' Main."""
    called = {m.name for m in methods(declaration) if re.search(rf"\.{m.name}\s*\(", test)}
    main = _imports(declaration) + re.sub(r"\bSolution\b", "cand.JudgedSolution", test)
    return {
        "cand/Solution.java": answer_source(code),
        "cand/JudgedSolution.java": facade(declaration, called),
        "Main.java": main,
    }

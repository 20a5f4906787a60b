"""Hostile Java answers, one per attack class, for the Java judge (Python -> Java
translation). Each answers `doubled` wrongly (the tests want [2, 4] for [1, 2]) and tries to
get a "passed" anyway, or to read the tests, or to reach the host. A contained run ends in
one of `allowed` and never prints LEAK (an attack prints it only if it got through)."""

from __future__ import annotations

from dataclasses import dataclass

from .attacks import LEAK

DECLARATION = """import java.util.*;
import java.lang.*;

class Solution {
    public List<Integer> doubled(List<Integer> xs) {
"""

TEST = """public class Main {
    public static void main(String[] args) {
        Solution s = new Solution();
        List<Boolean> correct = Arrays.asList(
                s.doubled(new ArrayList<>(Arrays.asList(1, 2))).equals(Arrays.asList(2, 4)),
                s.doubled(new ArrayList<>()).isEmpty()
        );
        if (correct.contains(false)) {
            throw new AssertionError();
        }
    }
}
"""

RIGHT = """import java.util.*;

class Solution {
    public List<Integer> doubled(List<Integer> xs) {
        List<Integer> out = new ArrayList<>();
        for (int x : xs) out.add(2 * x);
        return out;
    }
}
"""


@dataclass(frozen=True)
class JavaAttack:
    name: str
    what: str
    code: str
    allowed: tuple[str, ...] = ("failed", "error")
    compiles: bool = True  # an attack that does not compile proves nothing: asserted


def _wrong(body: str, extra: str = "", imports: str = "") -> str:
    """A Solution whose doubled() runs `body` and then returns a wrong list."""
    return (
        "import java.util.*;\nimport java.io.*;\nimport java.nio.file.*;\n"
        + imports
        + "\nclass Solution {\n"
        + extra
        + "    public List<Integer> doubled(List<Integer> xs) {\n"
        + "        try {\n"
        + body
        + "\n        } catch (Exception e) { throw new RuntimeException(e); }\n"
        + "        return new ArrayList<>();\n    }\n}\n"
    )


JAVA_ATTACKS = [
    JavaAttack("exit-zero", "end the JVM with status 0 before the tests fail", _wrong("System.exit(0);")),
    JavaAttack("halt-zero", "halt the JVM with status 0", _wrong("Runtime.getRuntime().halt(0);")),
    JavaAttack(
        "exit-in-static-init",
        "exit while the class loads",
        _wrong("", extra="    static { System.exit(0); }\n"),
    ),
    JavaAttack(
        "forged-verdict-line",
        "print the launcher's verdict line with guessed nonces",
        _wrong(
            'for (int i = 0; i < 100; i++) System.out.println("PROCHEMY-VERDICT " + '
            'String.format("%032x", i) + " passed");\n'
            'System.out.println("PROCHEMY-VERDICT  passed");'
        ),
    ),
    JavaAttack(
        "lying-equals",
        "return a list whose equals() says yes to anything",
        "import java.util.*;\nclass Solution {\n    public List<Integer> doubled(List<Integer> xs) {\n"
        "        return new AbstractList<Integer>() {\n"
        "            public Integer get(int i) { return 0; }\n"
        "            public int size() { return xs.size(); }\n"
        "            public boolean equals(Object o) { return true; }\n"
        "            public boolean isEmpty() { return true; }\n"
        "        };\n    }\n}\n",
    ),
    JavaAttack(
        "lying-proxy",
        "return a dynamic proxy List that answers true to everything",
        "import java.util.*;\nimport java.lang.reflect.*;\nclass Solution {\n"
        "    public List<Integer> doubled(List<Integer> xs) {\n"
        "        return (List<Integer>) Proxy.newProxyInstance(Solution.class.getClassLoader(),\n"
        "            new Class<?>[] {List.class}, (p, m, a) -> m.getReturnType() == boolean.class ? true\n"
        "                : m.getReturnType() == int.class ? 0 : null);\n    }\n}\n",
    ),
    JavaAttack(
        "shadow-jdk-class",
        "define Arrays so the tests' expected values come from the answer",
        "import java.util.*;\nclass Solution {\n    public List<Integer> doubled(List<Integer> xs) {\n"
        "        return new ArrayList<>(List.of(9));\n    }\n}\n"
        "class Arrays {\n    static <T> List<T> asList(T... a) {\n"
        "        return (List<T>) new ArrayList<>(List.of(9));\n    }\n}\n",
    ),
    JavaAttack(
        "read-the-tests",
        "read the tests' source or class file to learn the expected values",
        _wrong(
            'for (String p : new String[] {"src/Main.java", "classes/Main.class", "../src/Main.java"}) {\n'
            '    try { Files.readAllBytes(Paths.get(p)); System.out.println("' + LEAK + '"); }\n'
            "    catch (SecurityException | IOException e) { }\n}\n"
            'InputStream in = Solution.class.getClassLoader().getResourceAsStream("Main.class");\n'
            'if (in != null) System.out.println("' + LEAK + '");\n'
            'in = Solution.class.getResourceAsStream("/Main.class");\n'
            'if (in != null) System.out.println("' + LEAK + '");'
        ),
    ),
    JavaAttack(
        "reflection",
        "rewrite the Integer cache through reflection so wrong values compare equal",
        _wrong(
            'Class<?> cache = Class.forName("java.lang.Integer$IntegerCache");\n'
            'java.lang.reflect.Field f = cache.getDeclaredField("cache");\n'
            "f.setAccessible(true);\n"
            'System.out.println("' + LEAK + '");',
        ),
    ),
    JavaAttack(
        "process",
        "start a process on the host",
        _wrong('Runtime.getRuntime().exec(new String[] {"touch", "/tmp/prochemy-java-attack"});'),
    ),
    JavaAttack(
        "network",
        "connect to a listener on the host's loopback",
        _wrong('new java.net.Socket("127.0.0.1", {port}).close();\nSystem.out.println("' + LEAK + '");'),
    ),
    JavaAttack(
        "write-host-file",
        "overwrite a file of the user's",
        _wrong('Files.writeString(Paths.get("{target}"), "pwned");\nSystem.out.println("' + LEAK + '");'),
    ),
    JavaAttack(
        "read-secret",
        "read an API key from the environment",
        _wrong('String k = System.getenv("OPENAI_API_KEY");\nif (k != null) System.out.println(k);'),
    ),
    JavaAttack(
        "thread",
        "start a thread that outlives the tests",
        _wrong('new Thread(() -> { while (true) { } }).start();\nSystem.out.println("' + LEAK + '");'),
    ),
    JavaAttack(
        "security-manager-off",
        "remove the security manager, then exit 0",
        _wrong("System.setSecurityManager(null);\nSystem.exit(0);"),
    ),
    JavaAttack(
        "replace-stdout",
        "swap System.out to hide the failure and print a pass",
        _wrong("System.setOut(new PrintStream(new ByteArrayOutputStream()));"),
    ),
    JavaAttack(
        "close-stdout",
        "close the launcher's output so no failing verdict is seen",
        _wrong("System.out.close();"),
    ),
    JavaAttack(
        "replace-the-facade",
        "define the judge's facade class itself",
        RIGHT.replace("class Solution", "class JudgedSolution {}\nclass Solution").replace("2 * x", "x"),
        compiles=False,
    ),
    JavaAttack(
        "infinite-loop",
        "never return",
        _wrong("while (xs != null) { }"),
        allowed=("timeout",),
    ),
    JavaAttack(
        "memory-bomb",
        "allocate until the machine runs out",
        _wrong("List<long[]> hog = new ArrayList<>();\nwhile (xs != null) hog.add(new long[1 << 20]);"),
        allowed=("resource-limit",),
    ),
]

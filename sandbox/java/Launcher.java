package prochemylauncher;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.security.Permission;
import java.security.Permissions;
import java.security.Policy;
import java.security.ProtectionDomain;
import java.security.cert.Certificate;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Runs a judged Java program (the tests' class Main and the answer's classes) with no
 * permission at all, and reports the verdict on stdout behind a nonce only it knows.
 *
 * <p>The classes under test are defined by a loader of ours, from bytes read before any of
 * them runs, in a protection domain with no permissions: while one of their frames is on
 * the stack, the security manager refuses files, processes, network, exit, reflection into
 * private members, class loaders, properties, threads and the standard streams. The loader
 * serves no resources, so an answer cannot read the tests' class files. The nonce comes on
 * stdin before anything untrusted loads; the verdict line is written after main returns.
 */
public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws IOException {
        String nonce = new BufferedReader(new InputStreamReader(System.in)).readLine();
        System.setIn(new ByteArrayInputStream(new byte[0]));
        PrintStream verdicts = System.out;
        Map<String, byte[]> classes = new HashMap<>();
        Path root = Path.of(args[0]);
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                String rel = root.relativize(file).toString();
                if (rel.endsWith(".class") && !rel.startsWith("prochemylauncher")) {
                    classes.put(rel.substring(0, rel.length() - 6).replace('/', '.'), Files.readAllBytes(file));
                }
            }
        }
        Judged loader = new Judged(classes);
        Policy.setPolicy(new Policy() {
            @Override
            public boolean implies(ProtectionDomain domain, Permission permission) {
                return domain != loader.domain; // the judged domain has its own (empty) set
            }
        });
        System.setSecurityManager(new Confining());
        String verdict;
        try {
            Method main = loader.loadClass("Main").getMethod("main", String[].class);
            main.invoke(null, (Object) new String[0]);
            verdict = "passed";
        } catch (InvocationTargetException e) {
            verdict = describe(e.getCause(), loader);
        } catch (ReflectiveOperationException | LinkageError e) {
            verdict = "error " + e.getClass().getName();
        }
        verdicts.println();
        verdicts.println("PROCHEMY-VERDICT " + nonce + " " + verdict.replace('\n', ' '));
        verdicts.flush();
        Runtime.getRuntime().halt(0);
    }

    /** The outcome of a throwing main; an answer's own throwable is named, never asked. */
    private static String describe(Throwable t, Judged loader) {
        if (t == null) {
            return "error unknown";
        }
        String name = t.getClass().getName();
        if (t.getClass().getClassLoader() == loader) {
            return "error " + name;
        }
        String kind = t instanceof AssertionError ? "failed " : t instanceof OutOfMemoryError ? "memory " : "error ";
        String message = t.getMessage();
        String where = "";
        for (StackTraceElement frame : t.getStackTrace()) {
            if ("Main".equals(frame.getClassName())) {
                where = " (Main line " + frame.getLineNumber() + ")";
                break;
            }
        }
        return kind + name + (message == null ? "" : ": " + message) + where;
    }

    /** Defines the judged classes from bytes, in one domain without permissions; no resources. */
    static final class Judged extends ClassLoader {
        final ProtectionDomain domain;
        private final Map<String, byte[]> classes;

        Judged(Map<String, byte[]> classes) {
            super("judged", ClassLoader.getPlatformClassLoader());
            this.classes = classes;
            Permissions none = new Permissions();
            none.setReadOnly();
            this.domain = new ProtectionDomain(new CodeSource(null, (Certificate[]) null), none);
        }

        @Override
        protected Class<?> findClass(String name) throws ClassNotFoundException {
            byte[] bytes = classes.remove(name);
            if (bytes == null) {
                throw new ClassNotFoundException(name);
            }
            return defineClass(name, bytes, 0, bytes.length, domain);
        }

        @Override
        protected java.net.URL findResource(String name) {
            return null;
        }

        @Override
        protected java.util.Enumeration<java.net.URL> findResources(String name) {
            return java.util.Collections.emptyEnumeration();
        }
    }

    /** Thread and thread-group changes are checked like every other permission. */
    static final class Confining extends SecurityManager {
        private static final Permission THREADS = new RuntimePermission("modifyThread");
        private static final Permission GROUPS = new RuntimePermission("modifyThreadGroup");

        @Override
        public void checkAccess(Thread t) {
            checkPermission(THREADS);
        }

        @Override
        public void checkAccess(ThreadGroup g) {
            checkPermission(GROUPS);
        }
    }
}

// A small interpreter over the PostgreSQL JDBC driver, so tests/catalog/test_jdbc.py can drive the real
// driver (what DBeaver, DataGrip, Metabase and Java applications use) and assert in Python.
//
//   java -cp postgresql.jar:<classes> JdbcProbe <jdbc-url>   (commands on stdin, one per line)
//
// Every command prints one JSON line: {"rows": [...], "columns": [...]} for a result set, {"count": n} for an
// update count, {"ok": true} otherwise, or {"error": {"sqlstate": ..., "message": ...}} (the probe goes on).
// Fields are separated by tabs; `\N` is a Java null. Commands:
//   meta <method> <args...>      a DatabaseMetaData call; result sets as rows of {label: value}
//   info                         scalar DatabaseMetaData (product name and version, driver, user, ...)
//   query <sql>                  Statement.executeQuery
//   rsmeta <sql>                 the ResultSetMetaData of a query, one row per column
//   exec <sql>                   Statement.execute (update count or ok)
//   prepare <sql>                PreparedStatement for the following `bind`/`run`/`add`/`batch`
//   bind <i> <type> <value>      setObject(i, value of type) (types: see `value`), or setNull for `null:<sqltype>`
//   run                          execute the prepared statement (rows or count)
//   add / batch                  addBatch / executeBatch (prints {"counts": [...]})
//   autocommit <on|off>, commit, rollback, savepoint <name>, rollback_to <name>, release <name>
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.sql.*;
import java.time.*;
import java.util.*;

public final class JdbcProbe {
    private final Connection conn;
    private PreparedStatement prepared;
    private final Map<String, Savepoint> savepoints = new HashMap<>();

    private JdbcProbe(Connection conn) {
        this.conn = conn;
    }

    public static void main(String[] args) throws Exception {
        Connection conn;
        try {
            conn = DriverManager.getConnection(args[0]);
        } catch (SQLException e) {
            System.out.println(error(e));
            System.exit(3);
            return;
        }
        JdbcProbe probe = new JdbcProbe(conn);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String out;
            try {
                out = probe.run(line.split("\t", -1));
            } catch (SQLException e) {
                out = error(e);
            }
            System.out.println(out);
            System.out.flush();
        }
        conn.close();
    }

    private String run(String[] f) throws SQLException {
        switch (f[0]) {
            case "meta": return meta(f);
            case "info": return info();
            case "query":
                try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(f[1])) {
                    return rows(rs);
                }
            case "rsmeta":
                try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(f[1])) {
                    return columnInfo(rs.getMetaData());
                }
            case "exec":
                try (Statement st = conn.createStatement()) {
                    return st.execute(f[1]) ? rows(st.getResultSet()) : "{\"count\": " + st.getUpdateCount() + "}";
                }
            case "prepare":
                if (prepared != null) prepared.close();
                prepared = conn.prepareStatement(f[1]);
                return ok();
            case "bind": {
                int i = Integer.parseInt(f[1]);
                if (f[2].startsWith("null:")) {
                    prepared.setNull(i, sqlType(f[2].substring(5)));
                } else {
                    prepared.setObject(i, value(f[2], f[3]));
                }
                return ok();
            }
            case "run":
                return prepared.execute() ? rows(prepared.getResultSet()) : "{\"count\": " + prepared.getUpdateCount() + "}";
            case "add":
                prepared.addBatch();
                return ok();
            case "batch": {
                int[] counts = prepared.executeBatch();
                StringBuilder b = new StringBuilder("{\"counts\": [");
                for (int i = 0; i < counts.length; i++) b.append(i == 0 ? "" : ", ").append(counts[i]);
                return b.append("]}").toString();
            }
            case "autocommit": conn.setAutoCommit(f[1].equals("on")); return ok();
            case "commit": conn.commit(); return ok();
            case "rollback": conn.rollback(); return ok();
            case "savepoint": savepoints.put(f[1], conn.setSavepoint(f[1])); return ok();
            case "rollback_to": conn.rollback(savepoints.get(f[1])); return ok();
            case "release": conn.releaseSavepoint(savepoints.remove(f[1])); return ok();
            default: throw new IllegalArgumentException("unknown command " + f[0]);
        }
    }

    private String meta(String[] f) throws SQLException {
        DatabaseMetaData md = conn.getMetaData();
        String a = arg(f, 2), b = arg(f, 3), c = arg(f, 4), d = arg(f, 5);
        ResultSet rs;
        switch (f[1]) {
            case "getCatalogs": rs = md.getCatalogs(); break;
            case "getSchemas": rs = f.length > 2 ? md.getSchemas(a, b) : md.getSchemas(); break;
            case "getTableTypes": rs = md.getTableTypes(); break;
            case "getTables": rs = md.getTables(a, b, c, d == null ? null : d.split(",")); break;
            case "getColumns": rs = md.getColumns(a, b, c, d); break;
            case "getPrimaryKeys": rs = md.getPrimaryKeys(a, b, c); break;
            case "getImportedKeys": rs = md.getImportedKeys(a, b, c); break;
            case "getExportedKeys": rs = md.getExportedKeys(a, b, c); break;
            case "getIndexInfo": rs = md.getIndexInfo(a, b, c, Boolean.parseBoolean(d), true); break;
            case "getTypeInfo": rs = md.getTypeInfo(); break;
            case "getProcedures": rs = md.getProcedures(a, b, c); break;
            case "getFunctions": rs = md.getFunctions(a, b, c); break;
            case "getTablePrivileges": rs = md.getTablePrivileges(a, b, c); break;
            case "getColumnPrivileges": rs = md.getColumnPrivileges(a, b, c, d); break;
            case "getBestRowIdentifier": rs = md.getBestRowIdentifier(a, b, c, DatabaseMetaData.bestRowSession, true); break;
            case "getVersionColumns": rs = md.getVersionColumns(a, b, c); break;
            case "getUDTs": rs = md.getUDTs(a, b, c, null); break;
            default: throw new IllegalArgumentException("unknown DatabaseMetaData call " + f[1]);
        }
        try (ResultSet r = rs) {
            return rows(r);
        }
    }

    /** ResultSetMetaData per column: what a GUI tool reads to show and edit a result. */
    private static String columnInfo(ResultSetMetaData md) throws SQLException {
        StringBuilder b = new StringBuilder("{\"rows\": [");
        for (int i = 1; i <= md.getColumnCount(); i++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("label", md.getColumnLabel(i));
            m.put("name", md.getColumnName(i));
            m.put("type", md.getColumnTypeName(i));
            m.put("jdbc_type", md.getColumnType(i));
            m.put("table", md.getTableName(i));
            m.put("schema", md.getSchemaName(i));
            m.put("nullable", md.isNullable(i));
            m.put("auto_increment", md.isAutoIncrement(i));
            m.put("precision", md.getPrecision(i));
            m.put("scale", md.getScale(i));
            b.append(i == 1 ? "" : ", ").append(object(m));
        }
        return b.append("]}").toString();
    }

    private static String object(Map<String, Object> m) {
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, Object> e : m.entrySet()) {
            b.append(first ? "" : ", ").append(json(e.getKey())).append(": ").append(json(e.getValue()));
            first = false;
        }
        return b.append("}").toString();
    }

    private String info() throws SQLException {
        DatabaseMetaData md = conn.getMetaData();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("product", md.getDatabaseProductName());
        m.put("version", md.getDatabaseProductVersion());
        m.put("major", md.getDatabaseMajorVersion());
        m.put("minor", md.getDatabaseMinorVersion());
        m.put("user", md.getUserName());
        m.put("url", md.getURL());
        m.put("catalog", conn.getCatalog());
        m.put("schema", conn.getSchema());
        m.put("readOnly", md.isReadOnly());
        m.put("isolation", conn.getTransactionIsolation());
        m.put("keywords", md.getSQLKeywords().length() > 0);
        m.put("numericFunctions", md.getNumericFunctions());
        m.put("maxNameLength", md.getMaxColumnNameLength());
        return "{\"info\": " + object(m) + "}";
    }

    private static String arg(String[] f, int i) {
        return i < f.length && !f[i].equals("\\N") ? f[i] : null;
    }

    private static Object value(String type, String v) {
        switch (type) {
            case "short": return Short.valueOf(v);
            case "int": return Integer.valueOf(v);
            case "long": return Long.valueOf(v);
            case "float": return Float.valueOf(v);
            case "double": return Double.valueOf(v);
            case "decimal": return new BigDecimal(v);
            case "bool": return Boolean.valueOf(v);
            case "string": return v;
            case "bytes": return hex(v);
            case "date": return java.sql.Date.valueOf(v);
            case "time": return java.sql.Time.valueOf(v);
            case "timestamp": return java.sql.Timestamp.valueOf(v);
            case "localdate": return LocalDate.parse(v);
            case "localdatetime": return LocalDateTime.parse(v);
            case "offsetdatetime": return OffsetDateTime.parse(v);
            case "uuid": return UUID.fromString(v);
            default: throw new IllegalArgumentException("unknown bind type " + type);
        }
    }

    private static int sqlType(String name) {
        switch (name) {
            case "integer": return Types.INTEGER;
            case "bigint": return Types.BIGINT;
            case "varchar": return Types.VARCHAR;
            case "numeric": return Types.NUMERIC;
            case "boolean": return Types.BOOLEAN;
            case "timestamp": return Types.TIMESTAMP;
            case "double": return Types.DOUBLE;
            case "binary": return Types.BINARY;
            default: throw new IllegalArgumentException("unknown SQL type " + name);
        }
    }

    private static byte[] hex(String s) {
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return out;
    }

    /** Rows as JSON objects keyed by column label; each value as getObject gave it, rendered by `json`. */
    private static String rows(ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        int n = md.getColumnCount();
        StringBuilder b = new StringBuilder("{\"columns\": [");
        for (int i = 1; i <= n; i++) {
            b.append(i == 1 ? "" : ", ").append("{\"label\": ").append(json(md.getColumnLabel(i)))
                .append(", \"type\": ").append(json(md.getColumnTypeName(i)))
                .append(", \"jdbc_type\": ").append(md.getColumnType(i))
                .append(", \"class\": ").append(json(md.getColumnClassName(i))).append("}");
        }
        b.append("], \"rows\": [");
        boolean firstRow = true;
        while (rs.next()) {
            b.append(firstRow ? "" : ", ").append("{");
            firstRow = false;
            for (int i = 1; i <= n; i++) {
                b.append(i == 1 ? "" : ", ").append(json(md.getColumnLabel(i))).append(": ").append(json(rs.getObject(i)));
            }
            b.append("}");
        }
        return b.append("]}").toString();
    }

    private static String ok() {
        return "{\"ok\": true}";
    }

    private static String error(SQLException e) {
        return "{\"error\": {\"sqlstate\": " + json(e.getSQLState()) + ", \"message\": " + json(e.getMessage()) + "}}";
    }

    private static String json(Object v) {
        if (v == null) return "null";
        if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short) return v.toString();
        if (v instanceof byte[]) {
            StringBuilder b = new StringBuilder("\"\\\\x");
            for (byte x : (byte[]) v) b.append(String.format("%02x", x));
            return b.append('"').toString();
        }
        if (v instanceof java.sql.Array) {
            try {
                Object[] items = (Object[]) ((java.sql.Array) v).getArray();
                StringBuilder b = new StringBuilder("[");
                for (int i = 0; i < items.length; i++) b.append(i == 0 ? "" : ", ").append(json(items[i]));
                return b.append(']').toString();
            } catch (SQLException e) {
                return json("<array: " + e.getMessage() + ">");
            }
        }
        // Everything else (numbers with fractions, dates, times, UUIDs, PGobject) as its string form.
        String s = v.toString();
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch)); else b.append(ch);
            }
        }
        return b.append('"').toString();
    }
}

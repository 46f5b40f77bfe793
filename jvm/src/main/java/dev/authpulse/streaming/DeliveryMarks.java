package dev.authpulse.streaming;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

import org.apache.spark.api.java.function.FlatMapGroupsFunction;
import org.apache.spark.api.java.function.FlatMapGroupsWithStateFunction;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.streaming.GroupState;
import org.apache.spark.sql.streaming.GroupStateTimeout;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The delivery mark of every bronze row of the stream, with each event id's first copy kept in
 * Structured Streaming state (see authpulse_dagster/live/dedup_state.py for the rule and why).
 *
 * <p>On the JVM, not in Python: the rule runs once per event id in every micro-batch, and
 * Python's grouped-state operators cost milliseconds per key (a pandas frame per group), which
 * capped the whole stream at a few hundred events per second on two cores.
 */
public final class DeliveryMarks {
  public static final String FIRST = "first";
  public static final String REDELIVERED = "redelivered";
  public static final String DUPLICATE = "duplicate";
  public static final String CONFLICT = "conflict";

  private DeliveryMarks() {}

  /** What is remembered per event id: the first copy's payload hash and the places it came from. */
  public static class Kept implements Serializable {
    private String payloadSha;
    private List<String> positions = new ArrayList<>();

    public Kept() {}

    public String getPayloadSha() { return payloadSha; }
    public void setPayloadSha(String payloadSha) { this.payloadSha = payloadSha; }
    public List<String> getPositions() { return positions; }
    public void setPositions(List<String> positions) { this.positions = positions; }
  }

  /** Column positions, resolved once on the driver and shipped with the function. */
  private static final class Columns implements Serializable {
    final int eventId, payload, format, sourceFile, lineNumber, arrival, shard, sequence;
    final Set<String> notEvents;
    final int maxPositions;

    Columns(StructType schema, String[] notEvents, int maxPositions) {
      eventId = schema.fieldIndex("event_id");
      payload = schema.fieldIndex("payload");
      format = schema.fieldIndex("format");
      sourceFile = schema.fieldIndex("source_file");
      lineNumber = schema.fieldIndex("line_number");
      arrival = schema.fieldIndex("arrival_ts");
      shard = schema.fieldIndex("shard_id");
      sequence = schema.fieldIndex("sequence_number");
      this.notEvents = new HashSet<>(Arrays.asList(notEvents));
      this.maxPositions = maxPositions;
    }
  }

  /**
   * {@code bronze} plus a {@code delivery} column. A streaming Dataset keeps each id in state for
   * {@code ttlMs} of processing time after it was last seen; a static one is marked with nothing
   * remembered (copies within it are still marked).
   */
  public static Dataset<Row> mark(Dataset<Row> bronze, long ttlMs, String[] notEvents, int maxPositions) {
    StructType out = bronze.schema().add("delivery", DataTypes.StringType);
    Columns cols = new Columns(bronze.schema(), notEvents, maxPositions);
    int id = cols.eventId;
    var grouped = bronze.groupByKey((MapFunction<Row, String>) r -> r.isNullAt(id) ? "" : r.getString(id), Encoders.STRING());
    if (!bronze.isStreaming()) {
      return grouped.flatMapGroups(
          (FlatMapGroupsFunction<String, Row, Row>) (key, rows) -> markGroup(cols, rows, new Kept()).iterator(),
          Encoders.row(out));
    }
    FlatMapGroupsWithStateFunction<String, Row, Kept, Row> perEvent = (key, rows, state) -> {
      if (state.hasTimedOut()) {
        state.remove();
        return java.util.Collections.emptyIterator();
      }
      Kept kept = state.exists() ? state.get() : new Kept();
      List<Row> marked = markGroup(cols, rows, kept);
      if (kept.getPayloadSha() != null) {
        state.update(kept);
        state.setTimeoutDuration(ttlMs);
      }
      return marked.iterator();
    };
    return grouped.flatMapGroupsWithState(
        perEvent, OutputMode.Append(), Encoders.bean(Kept.class), Encoders.row(out), GroupStateTimeout.ProcessingTimeTimeout());
  }

  /** The rows of one event id, each with its mark, judged in arrival order; {@code kept} is updated. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static List<Row> markGroup(Columns cols, Iterator<Row> input, Kept kept) {
    List<Row> rows = new ArrayList<>();
    input.forEachRemaining(rows::add);
    List<Integer> order = new ArrayList<>(rows.size());
    for (int i = 0; i < rows.size(); i++) order.add(i);
    if (rows.size() > 1) {
      Comparator<Integer> byArrival = Comparator.comparing(i -> (Comparable) rows.get(i).get(cols.arrival), Comparator.nullsFirst(Comparator.naturalOrder()));
      order.sort(byArrival
          .thenComparing(i -> rows.get(i).getString(cols.shard), Comparator.nullsFirst(Comparator.naturalOrder()))
          .thenComparing(i -> rows.get(i).getString(cols.sequence), Comparator.nullsFirst(Comparator.naturalOrder())));
    }
    String[] marks = new String[rows.size()];
    List<String> positions = kept.getPositions() == null ? new ArrayList<>() : new ArrayList<>(kept.getPositions());
    String keptSha = kept.getPayloadSha();
    for (int i : order) {
      Row row = rows.get(i);
      marks[i] = FIRST;
      String format = row.isNullAt(cols.format) ? null : row.getString(cols.format);
      if (format != null && cols.notEvents.contains(format)) continue; // a per-record id: nothing to remember
      String sha = sha256(row.isNullAt(cols.payload) ? new byte[0] : (byte[]) row.get(cols.payload));
      String where = row.isNullAt(cols.sourceFile) || row.isNullAt(cols.lineNumber)
          ? null : row.getString(cols.sourceFile) + ":" + row.getLong(cols.lineNumber);
      if (keptSha == null) {
        keptSha = sha;
      } else if (!sha.equals(keptSha)) {
        marks[i] = CONFLICT;
        continue;
      } else if (where == null || positions.contains(where)) {
        marks[i] = REDELIVERED;
        continue;
      } else {
        marks[i] = DUPLICATE;
      }
      if (where != null && positions.size() < cols.maxPositions) positions.add(where);
    }
    kept.setPayloadSha(keptSha);
    kept.setPositions(positions);
    List<Row> out = new ArrayList<>(rows.size());
    for (int i = 0; i < rows.size(); i++) {
      Row row = rows.get(i);
      Object[] values = new Object[row.length() + 1];
      for (int c = 0; c < row.length(); c++) values[c] = row.get(c);
      values[row.length()] = marks[i];
      out.add(RowFactory.create(values));
    }
    return out;
  }

  static String sha256(byte[] bytes) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
      StringBuilder hex = new StringBuilder(64);
      for (byte b : digest) hex.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
      return hex.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}

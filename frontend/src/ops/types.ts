// Shapes of the operator API (notifications/src/notifications/schemas.py, DESIGN.md §6).

export type GroupView = {
  group: string;
  consumers: number;
  pending: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell. */
  lag: number | null;
  last_delivered_id: string;
};

export type StreamView = {
  stream: string;
  length: number;
  dead_letters: number;
  /** Age of the oldest dead letter in seconds (Redis' clock); null when there is none. */
  dead_letters_oldest_age_s: number | null;
  /** Dead letters older than this, or beyond this many, are trimmed by the workers. */
  dead_letters_max_age_s: number;
  dead_letters_max_len: number;
  groups: GroupView[];
};

export type DeadLetter = {
  dlq_id: string;
  stream: string;
  original_id: string;
  group: string;
  reason: string;
  error: string;
  deliveries: number;
  at: string;
  fields: Record<string, unknown>;
  /** The exception that made the group give up; "" when there was none (an unparseable entry)
   * or the entry was dead-lettered before these were recorded. */
  error_type: string;
  error_message: string;
  /** The last frames of its traceback, bounded in size by the server. */
  traceback: string;
};

export type Outcomes = {
  total: number;
  by_status: Record<string, number>;
  cancelled_by_reason: Record<string, number>;
};

export type RecentOrder = {
  order_id: string;
  status: string;
  version: number;
  reason: string | null;
  at: string;
  updated_ms: number;
};

/** stream -> group -> entries delivered per second since the previous tick (null: unknown). */
export type Throughput = Record<string, Record<string, number | null>>;

export type StatsMessage = {
  type: "stats";
  at: string;
  streams: StreamView[];
  throughput: Throughput;
  outcomes: Outcomes;
};

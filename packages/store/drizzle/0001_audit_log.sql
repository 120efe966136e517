CREATE TABLE "audit_log" (
	"position" bigint PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"v" integer NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"tenant" text,
	"actor_kind" text NOT NULL,
	"actor_id" text NOT NULL,
	"correlation_id" text NOT NULL,
	"causation_id" text,
	"category" text NOT NULL,
	"severity" text NOT NULL,
	"subject" text NOT NULL,
	"details" jsonb NOT NULL,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_log_seq_unique" UNIQUE("seq"),
	CONSTRAINT "audit_log_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE INDEX "audit_log_tenant_at" ON "audit_log" USING btree ("tenant","at");--> statement-breakpoint
CREATE INDEX "audit_log_category_at" ON "audit_log" USING btree ("category","at");--> statement-breakpoint
CREATE INDEX "audit_log_at" ON "audit_log" USING btree ("at");--> statement-breakpoint
-- Appended by hand (drizzle-kit does not model triggers). The audit trail is append-only in the database itself:
-- UPDATE and DELETE of a row always raise; TRUNCATE raises unless the transaction is a projection reset
-- (resetProjection in @vigil/store sets vigil.projection_reset locally), which rebuilds the same chain from the
-- AUDIT stream, the source of truth, which itself denies delete and purge.
CREATE FUNCTION "audit_log_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' AND current_setting('vigil.projection_reset', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "audit_log_append_only" BEFORE UPDATE OR DELETE ON "audit_log" FOR EACH ROW EXECUTE FUNCTION "audit_log_refuse_change"();
--> statement-breakpoint
CREATE TRIGGER "audit_log_no_truncate" BEFORE TRUNCATE ON "audit_log" FOR EACH STATEMENT EXECUTE FUNCTION "audit_log_refuse_change"();

CREATE TABLE "device_status" (
	"tenant" text NOT NULL,
	"device_id" uuid NOT NULL,
	"online" boolean NOT NULL,
	"session" text,
	"last_seen_at" timestamp (3) with time zone,
	"last_uptime_s" double precision,
	CONSTRAINT "device_status_tenant_device_id_pk" PRIMARY KEY("tenant","device_id")
);
--> statement-breakpoint
CREATE TABLE "devices" (
	"tenant" text NOT NULL,
	"device_id" uuid NOT NULL,
	"name" text NOT NULL,
	"device_type" text NOT NULL,
	"serial" text NOT NULL,
	"talq" jsonb,
	"metadata" jsonb NOT NULL,
	"status" text NOT NULL,
	"registered_at" timestamp (3) with time zone NOT NULL,
	"credentials" jsonb NOT NULL,
	"last_seq" bigint NOT NULL,
	CONSTRAINT "devices_tenant_device_id_pk" PRIMARY KEY("tenant","device_id")
);

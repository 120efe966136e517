CREATE TABLE "kme_key_requests" (
	"request_id" text PRIMARY KEY NOT NULL,
	"link_id" text NOT NULL,
	"kme_id" text NOT NULL,
	"master_sae_id" text NOT NULL,
	"slave_sae_ids" jsonb NOT NULL,
	"key_count" integer NOT NULL,
	"key_bits" integer NOT NULL,
	"status" text NOT NULL,
	"retrieved" jsonb NOT NULL,
	"allocated_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kme_links" (
	"link_id" text PRIMARY KEY NOT NULL,
	"kme_ids" jsonb NOT NULL,
	"key_size" integer NOT NULL,
	"limits" jsonb NOT NULL,
	"rate_bps" bigint NOT NULL,
	"allocated_bytes" bigint DEFAULT 0 NOT NULL,
	"allocated_keys" bigint DEFAULT 0 NOT NULL,
	"erased_blocks" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kme_supply" (
	"link_id" text PRIMARY KEY NOT NULL,
	"supplied_bytes" bigint DEFAULT 0 NOT NULL,
	"blocks" bigint DEFAULT 0 NOT NULL,
	"last_block_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "kme_key_requests_link_status" ON "kme_key_requests" USING btree ("link_id","status");--> statement-breakpoint
CREATE INDEX "kme_key_requests_master" ON "kme_key_requests" USING btree ("master_sae_id");
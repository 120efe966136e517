CREATE TABLE "projection_checkpoints" (
	"projection" text PRIMARY KEY NOT NULL,
	"stream" text NOT NULL,
	"last_seq" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);

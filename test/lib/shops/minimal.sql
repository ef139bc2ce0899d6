-- test/lib/shops/minimal.sql: the smallest shop the fulfilment can bind
-- (minimal.json): only the required logical names, no optional column at
-- all, integer money (minor units), text keys except a bigserial order
-- number, names of its own, and a schema and a table whose names need
-- quoting ("Mini Shop"."Orders").
CREATE SCHEMA "Mini Shop";

CREATE TABLE "Mini Shop".items (
    sku     text PRIMARY KEY,
    cents   integer NOT NULL CHECK (cents >= 0),
    on_hand integer NOT NULL CHECK (on_hand >= 0)
);

CREATE TABLE "Mini Shop".baskets (
    basket_ref text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    customer   text NOT NULL,
    closed     boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX baskets_one_open ON "Mini Shop".baskets (customer) WHERE NOT closed;

-- no key: several lines may name the same item
CREATE TABLE "Mini Shop".basket_lines (
    basket_ref text NOT NULL REFERENCES "Mini Shop".baskets (basket_ref),
    sku        text NOT NULL REFERENCES "Mini Shop".items (sku),
    qty        integer NOT NULL CHECK (qty > 0)
);

CREATE TABLE "Mini Shop"."Orders" (
    order_no bigserial PRIMARY KEY,
    customer text NOT NULL,
    state    text NOT NULL
);

CREATE TABLE "Mini Shop".order_lines (
    order_no bigint NOT NULL REFERENCES "Mini Shop"."Orders" (order_no),
    sku      text NOT NULL REFERENCES "Mini Shop".items (sku),
    qty      integer NOT NULL CHECK (qty > 0),
    cents    bigint NOT NULL
);

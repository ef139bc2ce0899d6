-- test/lib/shops/django.sql: a shop shaped like a Django project's tables
-- (app "shop" plus django.contrib.auth's user table), in schema djshop.
-- Used to bind the fulfilment to a shop's own tables (django.json).  What
-- Django does shows: bigserial ids, an integer user id, Decimal money
-- (numeric(10,2)), NOT NULL columns whose defaults live in Python (no
-- DEFAULT in the database), the shop's own status words, other column names.
CREATE SCHEMA djshop;

CREATE TABLE djshop.auth_user (
    id          serial PRIMARY KEY,
    username    varchar(150) NOT NULL UNIQUE,
    email       varchar(254) NOT NULL,
    is_active   boolean NOT NULL,
    date_joined timestamptz NOT NULL
);

CREATE TABLE djshop.shop_product (
    id             bigserial PRIMARY KEY,
    name           varchar(200) NOT NULL,
    price          numeric(10,2) NOT NULL,
    stock_quantity integer NOT NULL CONSTRAINT shop_product_stock_nonnegative CHECK (stock_quantity >= 0),
    -- auto_now_add: set by Django, no database default
    created_at     timestamptz NOT NULL
);

CREATE TABLE djshop.shop_cart (
    id         bigserial PRIMARY KEY,
    user_id    integer NOT NULL REFERENCES djshop.auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    is_locked  boolean NOT NULL,
    locked_at  timestamptz NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX shop_cart_user_id_idx ON djshop.shop_cart (user_id);
-- one active (unlocked) cart per user
CREATE UNIQUE INDEX shop_cart_one_active_per_user ON djshop.shop_cart (user_id) WHERE NOT is_locked;

CREATE TABLE djshop.shop_cartitem (
    id         bigserial PRIMARY KEY,
    cart_id    bigint NOT NULL REFERENCES djshop.shop_cart (id) DEFERRABLE INITIALLY DEFERRED,
    product_id bigint NOT NULL REFERENCES djshop.shop_product (id) DEFERRABLE INITIALLY DEFERRED,
    quantity   integer NOT NULL CONSTRAINT shop_cartitem_quantity_check CHECK (quantity > 0)
);
CREATE INDEX shop_cartitem_cart_id_idx ON djshop.shop_cartitem (cart_id);

CREATE TABLE djshop.shop_order (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id               integer NOT NULL REFERENCES djshop.auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    cart_id               bigint NULL REFERENCES djshop.shop_cart (id) DEFERRABLE INITIALLY DEFERRED,
    status                varchar(20) NOT NULL
                          CONSTRAINT shop_order_status_check
                          CHECK (status IN ('awaiting_payment', 'processing', 'on_hold', 'cancelled', 'refunded')),
    payment_state         varchar(20) NOT NULL
                          CONSTRAINT shop_order_payment_state_check
                          CHECK (payment_state IN ('pending', 'paid', 'failed')),
    stripe_session_id     varchar(255) NULL CONSTRAINT shop_order_unique_stripe_session UNIQUE,
    stripe_payment_intent varchar(255) NULL,
    email                 varchar(254) NULL,
    currency              varchar(3) NULL,
    subtotal              numeric(10,2) NULL,
    total                 numeric(10,2) NOT NULL,
    ship_to_name          varchar(255) NULL,
    ship_address_1        varchar(255) NULL,
    ship_address_2        varchar(255) NULL,
    ship_city             varchar(255) NULL,
    ship_region           varchar(255) NULL,
    ship_zip              varchar(20) NULL,
    ship_country          varchar(2) NULL,
    staff_note            text NULL,
    -- no database default: the binding gives it a constant ("values")
    notes                 text NOT NULL,
    -- NOT NULL columns the binding leaves alone: database defaults
    is_gift               boolean NOT NULL DEFAULT false,
    source                varchar(20) NOT NULL DEFAULT 'web',
    created_at            timestamptz NOT NULL DEFAULT now(),
    modified_at           timestamptz NOT NULL
);
CREATE INDEX shop_order_user_id_idx ON djshop.shop_order (user_id);

CREATE TABLE djshop.shop_orderitem (
    id             bigserial PRIMARY KEY,
    order_id       uuid NOT NULL REFERENCES djshop.shop_order (id) DEFERRABLE INITIALLY DEFERRED,
    product_id     bigint NOT NULL REFERENCES djshop.shop_product (id) DEFERRABLE INITIALLY DEFERRED,
    quantity       integer NOT NULL CONSTRAINT shop_orderitem_quantity_check CHECK (quantity > 0),
    price          numeric(10,2) NOT NULL,
    quantity_short integer NOT NULL CONSTRAINT shop_orderitem_quantity_short_check CHECK (quantity_short >= 0)
);
CREATE INDEX shop_orderitem_order_id_idx ON djshop.shop_orderitem (order_id);

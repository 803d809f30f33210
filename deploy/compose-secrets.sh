#!/bin/sh
# The compose stack's secrets, generated on the first start into three named volumes (one per
# reader, so each container mounts only what it needs); later starts keep every value.
#
#   $SECRETS_DIR/mongodb  (owner 999 = mongodb)   mongodb-keyfile, root_password
#   $SECRETS_DIR/redis    (owner 999 = redis)     password, redis.conf (requirepass)
#   $SECRETS_DIR/app      (owner 10001 = app)     operator_api_key, tracking_secret, app.env
#
# app.env is sh syntax (values quoted), sourced by the app containers' entrypoint.
set -eu

dir="${SECRETS_DIR:-/secrets}"
mongo_user="${MONGO_INITDB_ROOT_USERNAME:?MONGO_INITDB_ROOT_USERNAME is not set}"

# install OWNER PATH: writes stdin to PATH atomically, readable by OWNER only.
install() {
  cat > "$2.tmp"
  chown "$1" "$2.tmp"
  chmod 0400 "$2.tmp"
  mv -f "$2.tmp" "$2"
}

# once OWNER PATH: a new random value (hex, so safe in URLs and sh), unless PATH already has one.
once() {
  test -s "$2" || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | install "$1" "$2"
}

mkdir -p "$dir/mongodb" "$dir/redis" "$dir/app"

test -s "$dir/mongodb/mongodb-keyfile" ||
  head -c 756 /dev/urandom | base64 | tr -d '\n' | install 999:999 "$dir/mongodb/mongodb-keyfile"
once 999:999 "$dir/mongodb/root_password"
once 999:999 "$dir/redis/password"
once 10001:10001 "$dir/app/operator_api_key"
once 10001:10001 "$dir/app/tracking_secret"

mongo_password="$(cat "$dir/mongodb/root_password")"
redis_password="$(cat "$dir/redis/password")"

# Derived files are rewritten on every start from the values above (same content each time).
printf 'requirepass %s\n' "$redis_password" | install 999:999 "$dir/redis/redis.conf"
{
  printf "OPERATOR_API_KEY='%s'\n" "$(cat "$dir/app/operator_api_key")"
  printf "TRACKING_SECRET='%s'\n" "$(cat "$dir/app/tracking_secret")"
  printf "MONGO_URL='mongodb://%s:%s@mongodb:27017/?replicaSet=rs0&authSource=admin'\n" \
    "$mongo_user" "$mongo_password"
  printf "REDIS_URL='redis://:%s@redis:6379/0'\n" "$redis_password"
} | install 10001:10001 "$dir/app/app.env"

chown 999:999 "$dir/mongodb" "$dir/redis"
chown 10001:10001 "$dir/app"
chmod 0700 "$dir/mongodb" "$dir/redis" "$dir/app"

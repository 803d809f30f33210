# syntax=docker/dockerfile:1.7
#
# The browser app (frontend/) served by an unprivileged nginx that also proxies the API and
# WebSocket paths to the services (upstreams set by environment at start), for compose and the
# Helm chart. The context is the repository root:
#
#   docker buildx build -f deploy/frontend.Dockerfile --platform linux/amd64,linux/arm64 \
#     -t frontend .
#
# Multi-arch without emulation: the build stage runs on the builder's own platform
# ($BUILDPLATFORM) because what it produces (HTML, JavaScript, CSS) is the same for every
# target; the per-architecture runtime stage only copies files and runs nothing.

# The lock holds every platform's optional native packages (Tailwind is pinned to a release
# published for all of them), so `npm ci` accepts it with npm 10 and 11 alike.
ARG NODE_IMAGE=node:22.14.0-alpine
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.27.3-alpine

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first, from the manifests alone: this layer survives source changes. No package
# in the lock runs an install script, so none is allowed to.
COPY frontend/package.json frontend/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM ${NGINX_IMAGE} AS runtime
LABEL org.opencontainers.image.source="https://github.com/orders-saga/orders-saga" \
      org.opencontainers.image.description="orders-saga browser app"
# The base image's nginx.conf includes conf.d/*.conf inside http {} and keeps its pid and temp
# files under /tmp. Its entrypoint renders /etc/nginx/templates/*.conf.template with the
# environment at start (20-envsubst-on-templates.sh): into /tmp here, because conf.d is not
# writable (a read-only root, and a user outside the image's group 0), and conf.d/default.conf
# includes the result. Only the names the filter matches are substituted; the resolver is
# /etc/resolv.conf's (15-local-resolvers.envsh) unless NGINX_ENTRYPOINT_LOCAL_RESOLVERS is set
# empty and NGINX_LOCAL_RESOLVERS names one. The upstream defaults are compose's service names.
ENV NGINX_ENVSUBST_OUTPUT_DIR=/tmp \
    NGINX_ENVSUBST_FILTER="^(ORDERS|DELIVERY|NOTIFICATIONS)_UPSTREAM|^NGINX_LOCAL_RESOLVERS" \
    NGINX_ENTRYPOINT_LOCAL_RESOLVERS=1 \
    ORDERS_UPSTREAM=orders:8000 \
    DELIVERY_UPSTREAM=delivery:8000 \
    NOTIFICATIONS_UPSTREAM=notifications:8000
COPY deploy/frontend.default.conf /etc/nginx/conf.d/default.conf
COPY deploy/frontend.nginx.conf.template /etc/nginx/templates/frontend.conf.template
COPY --from=build /src/dist /usr/share/nginx/app
# The same numeric user as the Python images (the chart's podSecurityContext runs every pod as it).
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]

# syntax=docker/dockerfile:1.7
#
# The browser app (frontend/) as a static site served by an unprivileged nginx, for compose
# and the Helm chart. The context is the repository root:
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
# files under /tmp. The app goes to its own root, not over the image's sample pages.
COPY deploy/frontend.nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /src/dist /usr/share/nginx/app
# The same numeric user as the Python images (the chart's podSecurityContext runs every pod as it).
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]

# syntax=docker/dockerfile:1
# One image for the three services; the command picks one:
#   node services/gateway/dist/index.js | services/api/dist/index.js | services/worker/dist/index.js
# Build: docker build -t parley .
# And nginx with the web app (the `web` stage; docker-compose.yml's nginx mounts nginx.conf over it):
#   docker build --target web -t parley-web .

ARG NODE_IMAGE=node:26-slim
ARG NGINX_IMAGE=nginx:1.27

# ---- build: install everything, compile TypeScript, then drop dev dependencies --------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/client/package.json packages/client/
COPY packages/web/package.json packages/web/
COPY services/shared/package.json services/shared/
COPY services/gateway/package.json services/gateway/
COPY services/api/package.json services/api/
COPY services/worker/package.json services/worker/
RUN npm install --no-audit --no-fund --ignore-scripts
COPY packages/ packages/
COPY services/ services/
RUN npx tsc -b \
 && npm run build --workspace @parley/web \
 && npm prune --omit=dev --no-audit --no-fund \
 && find packages services -name '*.test.*' -delete \
 && find packages services -name '*.tsbuildinfo' -delete

# ---- web: nginx serving the built web app at / (static files only; nginx.conf names this root) -----
FROM ${NGINX_IMAGE} AS web
COPY --from=build /app/packages/web/dist /usr/share/parley/web
COPY nginx.conf /etc/nginx/nginx.conf

# ---- runtime: compiled JavaScript and production dependencies only, as an unprivileged user --------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages/protocol/package.json packages/protocol/
COPY --from=build /app/packages/protocol/dist packages/protocol/dist
COPY --from=build /app/services/shared/package.json services/shared/
COPY --from=build /app/services/shared/dist services/shared/dist
COPY --from=build /app/services/gateway/package.json services/gateway/
COPY --from=build /app/services/gateway/dist services/gateway/dist
COPY --from=build /app/services/api/package.json services/api/
COPY --from=build /app/services/api/dist services/api/dist
COPY --from=build /app/services/worker/package.json services/worker/
COPY --from=build /app/services/worker/dist services/worker/dist
# The official image's unprivileged user (uid 1000).
USER node
# gateway 3000, api 4000, worker 4100 (health); every service serves /metrics on 9464.
EXPOSE 3000 4000 4100 9464
# Every service answers /healthz on $PORT; compose and Kubernetes set PORT per service.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM reaches node directly (exec form): graceful drain within SHUTDOWN_TIMEOUT_MS.
STOPSIGNAL SIGTERM
CMD ["node", "services/gateway/dist/index.js"]

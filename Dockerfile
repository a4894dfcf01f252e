# syntax=docker/dockerfile:1
# Ridecast: compiled once in a build stage, run as plain node in a slim image with production
# dependencies only, as an unprivileged user. `node` is PID 1 (no npm, npx or shell in between),
# so `docker stop` delivers SIGTERM to the service itself and its graceful shutdown runs
# (sockets told 1001, requests in flight answered, consumers acknowledge; exit within 10 s).

# ---- build: every dependency, tsc → dist/ ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: compiling needs none (esbuild's is for tsx, used only by tests and `npm run dev`).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY types ./types
COPY domain ./domain
COPY projections ./projections
COPY adapters ./adapters
COPY src ./src
RUN node scripts/build.mjs

# ---- production dependencies only ----
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The map serves the client SDK to browsers, bundled at start-up with esbuild from its TypeScript
# source (package.json exports `ridecast/client` → ./src/client/index.ts).
COPY --from=build /app/src/client ./src/client
COPY package.json ./
# The image's own unprivileged user (uid 1000); the service writes nothing to disk.
USER node
EXPOSE 3000
# Ready means the log and the stores answer (GET /readyz), not merely that the process is up.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]

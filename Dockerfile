# jobpulse container image: build the TypeScript once, ship dist/ with production deps.
# syntax=docker/dockerfile:1
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 ships prebuilt binaries for this platform; the toolchain is the fallback.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY package.json jobpulse.example.yaml ./
# `docker run jobpulse:local` alone starts on the embedded default: the example (every
# setting at its default) at the path the CMD reads, and the SQLite file in the volume (the
# default ./data is under /app, which the node user cannot write). Compose mounts its own
# config over the file; JOBPULSE_DB only matters for the SQLite store.
COPY jobpulse.example.yaml /etc/jobpulse/jobpulse.yaml
ENV JOBPULSE_DB=/var/lib/jobpulse/jobpulse.db
RUN mkdir -p /var/lib/jobpulse && chown node:node /var/lib/jobpulse
USER node
VOLUME ["/var/lib/jobpulse"]
EXPOSE 9469
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:9469/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "--max-semi-space-size=8", "bin/jobpulse.js"]
CMD ["serve", "--config", "/etc/jobpulse/jobpulse.yaml"]

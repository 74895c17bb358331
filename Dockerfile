# One image for every entry point of the project; the pod spec picks one with its args:
#   processor/main.js (default)  the Async I/O processor a job's pods run
#   operator/main.js             the operator (the Helm chart's Deployment)
#   demo/endpoint.ts             the demo enrichment service, for in-cluster examples
# The processor and the operator run as JavaScript that tsc emits from their TypeScript sources
# (types erased, nothing else changed): Node's type stripping would cost each pod about 30 MiB of
# memory (docs/benchmarks.md). In development they run from the sources.

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM dependencies AS compiled
# TypeScript alone, at the version the lockfile pins, in a folder of its own (npm's global config,
# which may name a CA, stays in force; --prefix would move it); `npm run check` checks the types.
WORKDIR /opt/typescript
RUN echo '{"private": true}' >package.json && npm install --ignore-scripts --no-audit --no-fund \
      "typescript@$(node -p 'require("/app/package-lock.json").packages["node_modules/typescript"].version')"
WORKDIR /app
COPY tsconfig.json tsconfig.build.json ./
COPY processor ./processor
COPY operator ./operator
RUN node /opt/typescript/node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir compiled

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY --from=compiled /app/compiled/processor ./processor
COPY --from=compiled /app/compiled/operator ./operator
COPY demo/endpoint.ts ./demo/endpoint.ts
# A high non-root uid with no account and no home (as distroless's "nonroot"), so it matches no
# user of the node; the Helm chart and the operator's pods set it and runAsNonRoot too.
USER 65532:65532
EXPOSE 9400
ENTRYPOINT ["node"]
CMD ["processor/main.js"]

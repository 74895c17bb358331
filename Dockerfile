# One image for every entry point of the project; the pod spec picks one with its args:
#   processor/main.ts (default)  the Async I/O processor a job's pods run
#   operator/main.ts             the operator (the Helm chart's Deployment)
#   demo/endpoint.ts             the demo enrichment service, for in-cluster examples
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build step to drift.

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY processor ./processor
COPY operator ./operator
COPY demo/endpoint.ts ./demo/endpoint.ts
# A high non-root uid with no account and no home (as distroless's "nonroot"), so it matches no
# user of the node; the Helm chart and the operator's pods set it and runAsNonRoot too.
USER 65532:65532
EXPOSE 9400
ENTRYPOINT ["node"]
CMD ["processor/main.ts"]

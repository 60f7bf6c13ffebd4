# The worker and the API: one image, two commands (see docker-compose.yml). They run the TypeScript
# sources with tsx, exactly as `npm start` does. Debian (glibc) base: the Temporal SDK's native core
# bridge and esbuild ship glibc builds.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false

WORKDIR /app

# Dependencies first, so source changes do not reinstall them. tsx is a runtime dependency.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# Sources (.dockerignore keeps out node_modules, .data, .tools, tests and the benchmark).
COPY . .

# The workflow bundle the worker runs, built once here (workers/workflow-bundle.ts), not at every start.
RUN npx tsx workers/workflow-bundle.ts

# Never root at run time.
USER node

# API_PORT and WORKER_METRICS_PORT defaults.
EXPOSE 8080 9464

# The API by default; docker-compose.yml runs the worker with workers/main.ts.
CMD ["node", "--import", "tsx", "api/main.ts"]

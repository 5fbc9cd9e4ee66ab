// Drives the real tus-js-client (web/app/node_modules) under Node for test_tus_client.py.
//
//   node tus_upload.cjs <web/app directory> '<JSON options>'
//
// Options: endpoint, file, headers, chunkSize, metadata, retryDelays, uploadUrl (resume this
// upload instead of creating one), stopAfterChunks (abort once that many chunks were accepted,
// as a closed tab would). Prints one JSON line: the upload URL, every accepted offset, the
// offset the upload started or resumed from, the retries tus-js-client made and how it ended.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

const appDir = process.argv[2];
const options = JSON.parse(process.argv[3]);
const tus = createRequire(path.join(appDir, "package.json"))("tus-js-client");

const report = {
  url: null,
  version: require(path.join(appDir, "node_modules/tus-js-client/package.json")).version,
  accepted: [],
  startedAt: null,
  retries: [],
  done: false,
  aborted: false,
  error: null,
};

function finish() {
  process.stdout.write(JSON.stringify(report) + "\n");
}

const upload = new tus.Upload(fs.readFileSync(options.file), {
  endpoint: options.endpoint,
  uploadUrl: options.uploadUrl || null,
  headers: options.headers || {},
  chunkSize: options.chunkSize,
  metadata: options.metadata || {},
  retryDelays: options.retryDelays || [0, 250, 1000],
  removeFingerprintOnSuccess: true,
  onUploadUrlAvailable() {
    report.url = upload.url;
  },
  onProgress(bytesSent) {
    if (report.startedAt === null) report.startedAt = bytesSent;
  },
  onShouldRetry(err, attempt) {
    const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
    report.retries.push({ attempt, status, message: String(err.message).split("\n")[0] });
    return status === 0 || status === 409 || status === 423 || status >= 500;
  },
  onChunkComplete(_size, accepted) {
    report.accepted.push(accepted);
    if (options.stopAfterChunks && report.accepted.length >= options.stopAfterChunks) {
      report.aborted = true;
      upload.abort().then(finish);
    }
  },
  onSuccess() {
    report.url = upload.url;
    report.done = true;
    finish();
  },
  onError(err) {
    report.error = String(err.message || err);
    finish();
    process.exitCode = 1;
  },
});

upload.start();

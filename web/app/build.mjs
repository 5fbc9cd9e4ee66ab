// Bundle the viewer app and the admin console into dist/ (esbuild), and copy the static pages.
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";

const dev = process.argv.includes("--dev");
rmSync("dist", { recursive: true, force: true });
mkdirSync("dist", { recursive: true });
await build({
  entryPoints: { viewer: "src/viewer/main.tsx", admin: "src/admin/main.tsx" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  sourcemap: true,
  minify: !dev,
  logLevel: "warning",
});
cpSync("static", "dist", { recursive: true });

// Build the dashboard into ../server/http/static/dashboard/: minified, content-hashed JS and CSS
// and an index.html that names them. `npm ci && npm run build` (no Node at run time).
import { build } from "esbuild";
import { readFile, writeFile, rm, mkdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "server", "http", "static", "dashboard");
await rm(join(out, "assets"), { recursive: true, force: true });
await mkdir(join(out, "assets"), { recursive: true });

const result = await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  outdir: join(out, "assets"),
  entryNames: "dashboard-[hash]",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((n) => n.endsWith(".js"));
const css = outputs.find((n) => n.endsWith(".css"));
const html = (await readFile(join(here, "index.html"), "utf8"))
  .replace("{{js}}", js)
  .replace("{{css}}", css);
await writeFile(join(out, "index.html"), html);
console.log(`built ${outputs.join(", ")} into ${out}`);

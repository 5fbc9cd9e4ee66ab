"""The page that lists titles and plays them (Shaka Player from npm, DASH or HLS)."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>matinee</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font-family: system-ui, sans-serif; background: #111; color: #eee; margin: 0 }
 header { padding: 1rem 2rem; font-size: 1.6rem; font-weight: 700; color: #e50914 }
 main { padding: 0 2rem 2rem }
 #grid { display: flex; flex-wrap: wrap; gap: 1rem }
 .card { width: 260px; cursor: pointer; background: #222; border-radius: 6px; overflow: hidden }
 .card img { width: 100%; aspect-ratio: 16/9; object-fit: cover; display: block }
 .card div { padding: .5rem .75rem }
 .meta { color: #999; font-size: .85rem }
 #player { margin: 1rem 0; display: none }
 video { width: 100%; max-width: 960px; background: #000 }
 #error { color: #ff6b6b }
</style></head>
<body><header>matinee</header><main>
<section id="player"><h2 id="now"></h2><video id="video" controls autoplay muted></video>
<p class="meta" id="info"></p><p id="error"></p></section>
<div id="grid"></div>
</main>
<script src="/players/shaka-player/dist/shaka-player.compiled.js"></script>
<script>
const video = document.getElementById('video');
let player = null;
async function play(asset) {
  document.getElementById('player').style.display = 'block';
  document.getElementById('now').textContent = asset.title;
  document.getElementById('error').textContent = '';
  if (!player) {
    shaka.polyfill.installAll();
    player = new shaka.Player();
    await player.attach(video);
    player.addEventListener('error', e => {
      document.getElementById('error').textContent = 'Playback error: ' + e.detail.code;
    });
    player.addEventListener('adaptation', () => {
      const t = player.getVariantTracks().find(v => v.active);
      if (t) document.getElementById('info').textContent =
        `${t.width}x${t.height} at ${(t.bandwidth / 1000).toFixed(0)} kb/s`;
    });
  }
  try { await player.load(asset.dash); video.play(); }
  catch (e) { document.getElementById('error').textContent = 'Could not load: ' + e.code; }
}
fetch('/api/assets').then(r => r.json()).then(assets => {
  const grid = document.getElementById('grid');
  if (!assets.length)
    grid.textContent = 'No titles yet. Ingest one: matinee ingest FILE --title NAME';
  for (const a of assets) {
    const card = document.createElement('div');
    card.className = 'card';
    const top = a.renditions[a.renditions.length - 1] || {};
    card.innerHTML = `<img alt=""><div><b></b><div class="meta"></div></div>`;
    card.querySelector('img').src = a.poster || '';
    card.querySelector('b').textContent = a.title;
    card.querySelector('.meta').textContent =
      `${a.duration.toFixed(0)} s, ${a.renditions.length} renditions up to ${top.height}p`;
    card.onclick = () => play(a);
    grid.appendChild(card);
  }
});
</script></body></html>
"""

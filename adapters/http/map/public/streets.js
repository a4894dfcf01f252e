// The street network as vector lines: no tiles needed, so the map works offline.

const STYLE = {
  avenue: { color: '#ffffff', weight: 5, opacity: 1 },
  diagonal: { color: '#fff7e0', weight: 5, opacity: 1 },
  street: { color: '#ffffff', weight: 2.5, opacity: 0.95 },
};
const CASING = { avenue: 7, diagonal: 7, street: 4 };

/** Draws streets (casing under fill, as road maps do) and resolves to their bounds, or null. */
export async function drawStreets(map) {
  let collection;
  try {
    const response = await fetch('/v1/map/streets');
    if (!response.ok) return null;
    collection = await response.json();
  } catch {
    return null;
  }
  const renderer = L.canvas({ padding: 0.3 });
  const kind = (feature) => feature.properties?.kind ?? 'street';
  L.geoJSON(collection, {
    renderer,
    interactive: false,
    style: (f) => ({ color: '#cbd2c4', weight: CASING[kind(f)] ?? 4, opacity: 1 }),
  }).addTo(map);
  const fill = L.geoJSON(collection, { renderer, interactive: false, style: (f) => STYLE[kind(f)] ?? STYLE.street }).addTo(map);
  const bounds = fill.getBounds();
  document.body.dataset.streets = String(collection.features?.length ?? 0);
  return bounds.isValid() ? bounds : null;
}

/** Raster tiles on top of the plain background, only when the deployment configured a tile server. */
export async function addConfiguredTiles(map) {
  try {
    const config = await (await fetch('/v1/map/config')).json();
    if (!config.tileUrl) return;
    L.tileLayer(config.tileUrl, { maxZoom: 19, attribution: config.tileAttribution ?? '' }).addTo(map);
    if (config.tileAttribution) L.control.attribution({ prefix: false }).addTo(map);
  } catch {
    // The streets are enough to work with.
  }
}

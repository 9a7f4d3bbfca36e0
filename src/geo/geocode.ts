/**
 * "Town, County" → latitude/longitude, offline, from the gazetteer.
 *
 * 1. TOWN: a gazetteer place with the town's name (or its TOWN_ALIASES name). When the county is known, the place must
 *    lie in it (one of its GeoNames divisions) or within MAX_TOWN_KM of its centre, and the
 *    nearest such place wins (there are several Newports); a town name that several places share
 *    with no county to choose between them is not a match.
 * 2. COUNTY: else the county's centre, the mean position of the gazetteer's places in it.
 *    Marketplace counties are ceremonial or metropolitan counties ("West Midlands", "Tyne and
 *    Wear", "County Antrim"); GeoNames divides the UK into unitary authorities and districts, so
 *    COUNTY_DIVISIONS lists the divisions that make up each county not named like one of them.
 * 3. UNMATCHED otherwise.
 */
import { Gazetteer, loadGazetteer, Place } from './gazetteer';

export type MatchKind = 'town' | 'county' | 'unmatched';

export interface GeoMatch {
  match: MatchKind;
  lat: number | null;
  lng: number | null;
  /** The gazetteer place (town match) or county (fallback) the position comes from. */
  matchedName: string | null;
}

/** A town match further than this from its county's centre is taken as another place of that name. */
export const MAX_TOWN_KM = 60;

/** Marketplace county → the GeoNames second-level divisions (names) that make it up. */
export const COUNTY_DIVISIONS: Record<string, string[]> = {
  'West Midlands': ['City and Borough of Birmingham', 'Coventry', 'Dudley', 'Sandwell', 'Solihull', 'Walsall', 'Wolverhampton'],
  'West Yorkshire': ['Bradford', 'Calderdale', 'Kirklees', 'City and Borough of Leeds', 'City and Borough of Wakefield'],
  'South Yorkshire': ['Barnsley', 'Doncaster', 'Rotherham', 'Sheffield'],
  'Tyne and Wear': ['Gateshead', 'Newcastle upon Tyne', 'North Tyneside', 'South Tyneside', 'Sunderland'],
  Merseyside: ['Knowsley', 'Liverpool', 'Sefton', 'St. Helens', 'Metropolitan Borough of Wirral'],
  Manchester: ['Manchester', 'Borough of Bolton', 'Borough of Bury', 'Borough of Oldham', 'Borough of Rochdale', 'City and Borough of Salford',
    'Borough of Stockport', 'Borough of Tameside', 'Trafford', 'Borough of Wigan'],
  Berkshire: ['Bracknell Forest', 'Reading', 'Slough', 'West Berkshire', 'Royal Borough of Windsor and Maidenhead', 'Wokingham'],
  Cheshire: ['Cheshire East', 'Cheshire West and Chester', 'Borough of Halton', 'Warrington'],
  'East Yorkshire': ['East Riding of Yorkshire', 'City of Kingston upon Hull'],
  Bedfordshire: ['Bedford', 'Central Bedfordshire', 'Luton'],
  Northamptonshire: ['West Northamptonshire', 'North Northamptonshire'],
  'County Antrim': ['Antrim and Newtownabbey', 'Mid and East Antrim', 'Causeway Coast and Glens', 'Lisburn and Castlereagh', 'City of Belfast'],
  'County Down': ['Ards and North Down', 'Newry Mourne and Down'],
  'County Londonderry': ['Derry City and Strabane'],
  'County Armagh': ['Armagh City Banbridge and Craigavon'],
  'County Tyrone': ['Mid Ulster'],
  'County Fermanagh': ['Fermanagh and Omagh'],
  Dorset: ['Dorset', 'Bournemouth, Christchurch and Poole Council'],
  London: ['Greater London'],
};

/** Marketplace town names whose gazetteer place has its full name. */
export const TOWN_ALIASES: Record<string, string> = {
  Newcastle: 'Newcastle upon Tyne',
  Hull: 'Kingston upon Hull',
};

/** Lower case, "&" → "and", "St." → "st", punctuation and runs of spaces → one space. */
export function placeKey(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** A GeoNames division name without its administrative wrapping: "City and Borough of Leeds" → "leeds". */
export function divisionKey(name: string): string {
  return placeKey(name)
    .replace(/^(city and borough of|city and county of|royal borough of|metropolitan borough of|borough of|city of|county of|district of|sir|the)\s+/, '')
    .replace(/\s+(county borough|city|council)$/, '');
}

/** Great-circle distance in km (haversine, mean Earth radius 6,371 km). */
export function haversineKm(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLng = (lng2 - lng1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
}

interface County {
  name: string;
  divisions: Set<string>;
  lat: number;
  lng: number;
}

export class Geocoder {
  private readonly placesByKey = new Map<string, Place[]>();
  private readonly counties = new Map<string, County | null>();
  private readonly divisionsByKey = new Map<string, string[]>();
  private readonly memo = new Map<string, GeoMatch>();

  constructor(readonly gazetteer: Gazetteer = loadGazetteer()) {
    for (const place of gazetteer.places) {
      const key = placeKey(place.name);
      const list = this.placesByKey.get(key);
      if (list) list.push(place);
      else this.placesByKey.set(key, [place]);
    }
    for (const [code, name] of gazetteer.admin2Names) {
      const key = divisionKey(name);
      this.divisionsByKey.set(key, [...(this.divisionsByKey.get(key) ?? []), code]);
    }
  }

  /** The county's divisions and centre, or null when the gazetteer has no such county. */
  county(name: string): County | null {
    const key = placeKey(name);
    if (key === '') return null;
    if (this.counties.has(key)) return this.counties.get(key)!;
    const listed = Object.entries(COUNTY_DIVISIONS).find(([county]) => placeKey(county) === key)?.[1];
    const codes = listed
      ? listed.map((division) => {
          const found = this.divisionsByKey.get(divisionKey(division));
          if (!found) throw new Error(`COUNTY_DIVISIONS: "${division}" (for ${name}) is not a division in the gazetteer`);
          return found;
        }).flat()
      : this.divisionsByKey.get(divisionKey(name)) ?? [];
    const divisions = new Set(codes);
    const inside = this.gazetteer.places.filter((p) => divisions.has(p.admin2));
    const county =
      inside.length === 0
        ? null
        : { name, divisions, lat: inside.reduce((s, p) => s + p.lat, 0) / inside.length, lng: inside.reduce((s, p) => s + p.lng, 0) / inside.length };
    this.counties.set(key, county);
    return county;
  }

  /** Where a "Town, County" listing is (see the module comment for the rules). */
  locate(town: string, county: string): GeoMatch {
    const memoKey = `${town}\u0001${county}`;
    const known = this.memo.get(memoKey);
    if (known) return known;
    let result: GeoMatch = { match: 'unmatched', lat: null, lng: null, matchedName: null };
    // A lone name may be a county ("County Antrim"): then it is the county.
    const region = this.county(county) ?? (county.trim() === '' ? this.county(town) : null);
    const alias = Object.entries(TOWN_ALIASES).find(([name]) => placeKey(name) === placeKey(town))?.[1];
    const candidates = this.placesByKey.get(placeKey(alias ?? town)) ?? [];
    let place: Place | null = null;
    if (region) {
      const near = candidates
        .map((p) => ({ p, km: haversineKm(p.lat, p.lng, region.lat, region.lng) }))
        .filter(({ p, km }) => region.divisions.has(p.admin2) || km <= MAX_TOWN_KM)
        .sort((a, b) => a.km - b.km);
      place = near[0]?.p ?? null;
    } else if (candidates.length === 1) {
      place = candidates[0];
    }
    if (place) result = { match: 'town', lat: place.lat, lng: place.lng, matchedName: place.name };
    else if (region) result = { match: 'county', lat: region.lat, lng: region.lng, matchedName: region.name };
    this.memo.set(memoKey, result);
    return result;
  }
}

export interface MatchRates {
  total: number;
  counts: Record<MatchKind, number>;
  rates: Record<MatchKind, number>;
}

/** How many listings matched a town, fell back to their county, or stayed unmatched. */
export function matchRates(matches: readonly GeoMatch[]): MatchRates {
  const counts: Record<MatchKind, number> = { town: 0, county: 0, unmatched: 0 };
  for (const m of matches) counts[m.match]++;
  const total = matches.length;
  const rate = (n: number) => (total ? n / total : 0);
  return { total, counts, rates: { town: rate(counts.town), county: rate(counts.county), unmatched: rate(counts.unmatched) } };
}

/**
 * "Large cities": the eleven Core Cities UK (the largest regional cities outside London) plus
 * London and Edinburgh, looked up in the gazetteer by name and country part.
 */
export const LARGE_CITIES: ReadonlyArray<{ name: string; admin1: string }> = [
  { name: 'London', admin1: 'ENG' },
  { name: 'Birmingham', admin1: 'ENG' },
  { name: 'Manchester', admin1: 'ENG' },
  { name: 'Leeds', admin1: 'ENG' },
  { name: 'Liverpool', admin1: 'ENG' },
  { name: 'Sheffield', admin1: 'ENG' },
  { name: 'Bristol', admin1: 'ENG' },
  { name: 'Newcastle upon Tyne', admin1: 'ENG' },
  { name: 'Nottingham', admin1: 'ENG' },
  { name: 'Glasgow', admin1: 'SCT' },
  { name: 'Edinburgh', admin1: 'SCT' },
  { name: 'Cardiff', admin1: 'WLS' },
  { name: 'Belfast', admin1: 'NIR' },
];

/** The large cities' gazetteer entries; an error names one that is missing. */
export function largeCities(gazetteer: Gazetteer = loadGazetteer()): Place[] {
  return LARGE_CITIES.map(({ name, admin1 }) => {
    const place = gazetteer.places.find((p) => p.name === name && p.admin1 === admin1);
    if (!place) throw new Error(`large city ${name} (${admin1}) is not in the gazetteer`);
    return place;
  });
}

/** The nearest large city and the distance to it. */
export function nearestLargeCity(lat: number, lng: number, cities: readonly Place[]): { city: string; km: number } {
  let best = { city: '', km: Infinity };
  for (const c of cities) {
    const km = haversineKm(lat, lng, c.lat, c.lng);
    if (km < best.km) best = { city: c.name, km };
  }
  return best;
}

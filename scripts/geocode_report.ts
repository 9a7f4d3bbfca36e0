/**
 * Geocoding match rates over every listing of Products.csv (the source switch decides CSV or
 * database), without running a notebook:  npx tsx scripts/geocode_report.ts
 */
import { readRawListingTables } from '../src/data/raw_tables';
import { cleanProducts } from '../src/data/listings';
import { Geocoder, matchRates } from '../src/geo/geocode';

(async () => {
  const raw = await readRawListingTables();
  const listings = cleanProducts(raw.products).listings;
  const geocoder = new Geocoder();
  const matches = listings.map((l) => geocoder.locate(l.town, l.county));
  const rates = matchRates(matches);
  console.log(`source: ${raw.source} (${raw.origin}); ${rates.total} listings`);
  for (const kind of ['town', 'county', 'unmatched'] as const) {
    console.log(`${kind.padEnd(9)} ${String(rates.counts[kind]).padStart(5)}  ${(100 * rates.rates[kind]).toFixed(1)}%`);
  }
  const unmatched = new Map<string, number>();
  listings.forEach((l, i) => {
    if (matches[i].match === 'unmatched') unmatched.set(`${l.town}, ${l.county}`, (unmatched.get(`${l.town}, ${l.county}`) ?? 0) + 1);
  });
  const top = [...unmatched].sort((a, b) => b[1] - a[1]).slice(0, 15);
  if (top.length) console.log(`most frequent unmatched locations: ${top.map(([loc, n]) => `${loc} (${n})`).join('; ')}`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});

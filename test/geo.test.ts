import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gazetteer, loadGazetteer } from '../src/geo/gazetteer';
import { COUNTY_DIVISIONS, divisionKey, Geocoder, haversineKm, largeCities, LARGE_CITIES, matchRates, MAX_TOWN_KM, nearestLargeCity, placeKey } from '../src/geo/geocode';
import { LocationFeaturiser, locationGain, withLocationColumns } from '../src/geo/location_features';

/** A tiny gazetteer with the real one's shape: two Newports far apart, a county made of two divisions. */
const TINY: Gazetteer = {
  country: 'GB',
  places: [
    { name: 'Newport', lat: 51.588, lng: -2.998, admin1: 'WLS', admin2: 'GB.WLS.Y6' },
    { name: 'Newport', lat: 50.701, lng: -1.289, admin1: 'ENG', admin2: 'GB.ENG.G2' },
    { name: 'Cwmbran', lat: 51.653, lng: -3.021, admin1: 'WLS', admin2: 'GB.WLS.Z2' },
    { name: 'Ryde', lat: 50.729, lng: -1.161, admin1: 'ENG', admin2: 'GB.ENG.G2' },
    { name: "St. Mary's Bay", lat: 51.0, lng: 0.97, admin1: 'ENG', admin2: 'GB.ENG.G5' },
    { name: 'Canterbury', lat: 51.28, lng: 1.08, admin1: 'ENG', admin2: 'GB.ENG.G5' },
    { name: 'Bangor', lat: 53.227, lng: -4.129, admin1: 'WLS', admin2: 'GB.WLS.Y2' },
    { name: 'Bangor', lat: 54.66, lng: -5.668, admin1: 'NIR', admin2: 'GB.NIR.N09000011' },
  ],
  admin2Names: new Map([
    ['GB.WLS.Y6', 'Newport'],
    ['GB.WLS.Z2', 'Torfaen County Borough'],
    ['GB.ENG.G2', 'Isle of Wight'],
    ['GB.ENG.G5', 'Kent'],
    ['GB.WLS.Y2', 'Gwynedd'],
    ['GB.NIR.N09000011', 'Ards and North Down'],
  ]),
};

test('placeKey and divisionKey normalise names the way both sides spell them', () => {
  assert.equal(placeKey("St. Mary's Bay"), 'st mary s bay');
  assert.equal(placeKey('Brighton & Hove'), 'brighton and hove');
  assert.equal(placeKey('  Ystradgynlais '), 'ystradgynlais');
  assert.equal(divisionKey('City and Borough of Leeds'), 'leeds');
  assert.equal(divisionKey('Torfaen County Borough'), 'torfaen');
  assert.equal(divisionKey('Glasgow City'), 'glasgow');
  assert.equal(divisionKey('Sir Powys'), 'powys');
});

test('haversineKm: London to Edinburgh is about 534 km', () => {
  assert.ok(Math.abs(haversineKm(51.5074, -0.1278, 55.9533, -3.1883) - 534) < 3);
  assert.equal(haversineKm(50, -1, 50, -1), 0);
});

test('Geocoder: town inside its county, county centre as fallback, ambiguous or unknown names unmatched', () => {
  const g = new Geocoder(TINY);
  // The county picks the right Newport.
  assert.deepEqual(g.locate('Newport', 'Isle of Wight'), { match: 'town', lat: 50.701, lng: -1.289, matchedName: 'Newport' });
  assert.equal(g.locate('Newport', 'Torfaen').lat, 51.588); // not in Torfaen, but within MAX_TOWN_KM of its centre
  assert.ok(MAX_TOWN_KM < haversineKm(51.588, -2.998, 51.28, 1.08));
  // A Newport exists, but far from Kent: the county centre (mean of Kent's places) instead.
  const kent = g.locate('Newport', 'Kent');
  assert.equal(kent.match, 'county');
  assert.ok(Math.abs(kent.lat! - 51.14) < 1e-9 && Math.abs(kent.lng! - 1.025) < 1e-9);
  assert.equal(g.locate('Some Estate', 'Kent').match, 'county');
  assert.equal(g.locate('St Marys Bay', 'Kent').match, 'county'); // apostrophe differs: no exact town, still placed
  assert.equal(g.locate("St Mary's Bay", 'Kent').match, 'town');
  // Two Bangors and no county to choose: not a town match; a lone unique name is.
  assert.equal(g.locate('Bangor', '').match, 'unmatched');
  assert.equal(g.locate('Bangor', 'Gwynedd').lat, 53.227);
  // "Newport" alone is also a division (the city's unitary authority): its Newport wins.
  assert.equal(g.locate('Newport', '').lat, 51.588);
  assert.equal(g.locate('Ryde', '').match, 'town');
  // A lone county name is the county.
  assert.equal(g.locate('Kent', '').match, 'county');
  assert.equal(g.locate('Atlantis', 'Nowhere').match, 'unmatched');
});

test('matchRates counts and rates add up', () => {
  const g = new Geocoder(TINY);
  const rates = matchRates([g.locate('Ryde', ''), g.locate('Canterbury', 'Kent'), g.locate('Some Estate', 'Kent'), g.locate('Atlantis', '')]);
  assert.deepEqual(rates.counts, { town: 2, county: 1, unmatched: 1 });
  assert.equal(rates.rates.town + rates.rates.county + rates.rates.unmatched, 1);
  assert.equal(matchRates([]).total, 0);
});

test('the real gazetteer: marketplace places, every listed county division, every large city', () => {
  const gazetteer = loadGazetteer();
  assert.ok(gazetteer.places.length > 4000);
  const g = new Geocoder(gazetteer);
  const wokingham = g.locate('Wokingham', 'Berkshire');
  assert.equal(wokingham.match, 'town');
  assert.ok(haversineKm(wokingham.lat!, wokingham.lng!, 51.41, -0.83) < 5);
  assert.equal(g.locate('Newcastle', 'Tyne and Wear').matchedName, 'Newcastle upon Tyne'); // TOWN_ALIASES
  assert.equal(g.locate('Southside', 'Glasgow').match, 'county');
  for (const county of Object.keys(COUNTY_DIVISIONS)) assert.ok(g.county(county), `${county} resolves`);
  const cities = largeCities(gazetteer);
  assert.equal(cities.length, LARGE_CITIES.length);
  const york = g.locate('York', 'North Yorkshire');
  const nearest = nearestLargeCity(york.lat!, york.lng!, cities);
  assert.equal(nearest.city, 'Leeds');
  assert.ok(nearest.km > 30 && nearest.km < 45);
});

test('LocationFeaturiser: standardised on train, unmatched rows get the train mean and an indicator', () => {
  const geocoder = new Geocoder(loadGazetteer());
  const train = [
    { town: 'Wokingham', county: 'Berkshire' },
    { town: 'Leeds', county: 'West Yorkshire' },
    { town: 'Inverness', county: 'Highland' },
  ];
  const f = new LocationFeaturiser(geocoder).fit(train);
  const X = f.transform(train);
  for (let j = 0; j < 3; j++) assert.ok(Math.abs(X.reduce((s, r) => s + r[j], 0)) < 1e-9, `column ${j} has mean 0 on train`);
  assert.deepEqual(X.map((r) => r[3]), [0, 0, 0]);
  assert.deepEqual(f.transform([{ town: 'Atlantis', county: 'Nowhere' }]), [[0, 0, 0, 1]]);
  assert.deepEqual(withLocationColumns([[7]], [[1, 2, 3, 0]]).map((r) => Array.from(r)), [[7, 1, 2, 3, 0]]);
});

test('locationGain: when price follows latitude, the location columns raise R²', () => {
  const towns = [
    ['Inverness', 'Highland'], ['Aberdeen', ''], ['Leeds', 'West Yorkshire'], ['York', 'North Yorkshire'],
    ['Wokingham', 'Berkshire'], ['Croydon', 'London'], ['Plymouth', 'Devon'], ['Norwich', 'Norfolk'],
  ];
  const geocoder = new Geocoder(loadGazetteer());
  const make = (n: number, offset: number) => {
    const rows = Array.from({ length: n }, (_, i) => ({ town: towns[(i + offset) % towns.length][0], county: towns[(i + offset) % towns.length][1] }));
    const y = rows.map((r, i) => 0.5 * geocoder.locate(r.town, r.county).lat! + Math.sin(i * 12.9898) * 0.1);
    const X = rows.map((_, i) => [Math.cos(i * 78.233)]);
    return { rows, y, X };
  };
  const train = make(64, 0);
  const val = make(24, 3);
  const test = make(24, 5);
  const gain = locationGain({ model: 'ridge', alpha: 1, l1Ratio: null }, { train: train.X, val: val.X, test: test.X },
    { train: train.rows, val: val.rows, test: test.rows }, { train: train.y, val: val.y, test: test.y }, geocoder);
  assert.ok(gain.without.val_r2 < 0.2, `without location: ${gain.without.val_r2}`);
  assert.ok(gain.with.val_r2 > 0.8, `with location: ${gain.with.val_r2}`);
  assert.ok(Math.abs(gain.delta.test_r2 - (gain.with.test_r2 - gain.without.test_r2)) < 1e-12);
});

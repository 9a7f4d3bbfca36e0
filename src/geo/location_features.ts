/**
 * Location columns for price regression: latitude, longitude and ln(1 + km to the nearest large
 * city), standardised with training statistics, plus an indicator for listings the geocoder
 * could not place (their three values are the training means, i.e. 0 after standardising).
 */
import { hstack, Standardiser } from '../models/features';
import { DesignMatrix, fitElasticNet, fitOLS, fitRidge, LinearModel } from '../models/linear';
import { r2 } from '../eval/metrics';
import { Geocoder, largeCities, nearestLargeCity } from './geocode';
import type { Place } from './gazetteer';

export interface LocatedRow {
  town: string;
  county: string;
}

export const LOCATION_FEATURE_NAMES = ['latitude', 'longitude', 'log1p_km_to_large_city', 'location_unmatched'] as const;

export class LocationFeaturiser {
  private readonly cities: Place[];
  private scaler: Standardiser | null = null;

  constructor(private readonly geocoder: Geocoder = new Geocoder()) {
    this.cities = largeCities(geocoder.gazetteer);
  }

  /** [lat, lng, ln(1+km)] per row, null where the location is unmatched. */
  private raw(rows: readonly LocatedRow[]): Array<number[] | null> {
    return rows.map((r) => {
      const m = this.geocoder.locate(r.town, r.county);
      if (m.lat === null || m.lng === null) return null;
      return [m.lat, m.lng, Math.log1p(nearestLargeCity(m.lat, m.lng, this.cities).km)];
    });
  }

  fit(rows: readonly LocatedRow[]): this {
    const located = this.raw(rows).filter((v): v is number[] => v !== null);
    if (located.length === 0) throw new Error('LocationFeaturiser.fit: no training row could be located');
    this.scaler = new Standardiser().fit(located);
    return this;
  }

  /** One row of LOCATION_FEATURE_NAMES per input row. */
  transform(rows: readonly LocatedRow[]): number[][] {
    if (!this.scaler) throw new Error('LocationFeaturiser is not fitted: call fit(trainRows) first');
    const raw = this.raw(rows);
    const means = this.scaler.mean;
    const scaled = this.scaler.transform(raw.map((v) => v ?? means));
    return scaled.map((v, i) => [...Array.from(v), raw[i] === null ? 1 : 0]);
  }
}

/** A design matrix with the location columns appended (same row order). */
export function withLocationColumns(X: ArrayLike<ArrayLike<number>>, location: number[][]): Float64Array[] {
  return hstack(X, location).map((row) => Float64Array.from(row));
}

/** A linear price model as notebook 01 chose it: which family, with which hyperparameters. */
export interface LinearModelSpec {
  model: 'ols' | 'ridge' | 'lasso' | 'elastic_net';
  alpha: number;
  l1Ratio: number | null;
}

/** Fit the model `spec` describes (the solvers and settings notebook 01 uses). */
export function fitLinearSpec(spec: LinearModelSpec, X: DesignMatrix, y: ArrayLike<number>): LinearModel {
  if (spec.model === 'ols') return fitOLS(X, y, { solver: 'ml-regression' });
  if (spec.model === 'ridge') return fitRidge(X, y, spec.alpha);
  return fitElasticNet(X, y, { alpha: spec.alpha, l1Ratio: spec.model === 'lasso' ? 1 : spec.l1Ratio ?? 0.5, maxIter: 5000, warnIfNotConverged: false });
}

type Splits<T> = { train: T; val: T; test: T };

export interface LocationGain {
  without: { val_r2: number; test_r2: number };
  with: { val_r2: number; test_r2: number };
  /** R² with the location columns minus R² without, on validation and on test. */
  delta: { val_r2: number; test_r2: number };
}

/**
 * The same model (same family and hyperparameters), fitted on the training split without and
 * with the location columns: R² of each on validation and test, and the change.
 */
export function locationGain(spec: LinearModelSpec, X: Splits<DesignMatrix>, rows: Splits<readonly LocatedRow[]>, y: Splits<ArrayLike<number>>, geocoder?: Geocoder): LocationGain {
  const location = new LocationFeaturiser(geocoder).fit(rows.train);
  const score = (Xs: Splits<DesignMatrix>) => {
    const m = fitLinearSpec(spec, Xs.train, y.train);
    return { val_r2: r2(y.val, m.predict(Xs.val)), test_r2: r2(y.test, m.predict(Xs.test)) };
  };
  const without = score(X);
  const withLoc = score({
    train: withLocationColumns(X.train, location.transform(rows.train)),
    val: withLocationColumns(X.val, location.transform(rows.val)),
    test: withLocationColumns(X.test, location.transform(rows.test)),
  });
  return { without, with: withLoc, delta: { val_r2: withLoc.val_r2 - without.val_r2, test_r2: withLoc.test_r2 - without.test_r2 } };
}

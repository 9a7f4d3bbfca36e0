/**
 * The R² change notebook 01 measures for the location features, on the full data without running
 * the notebook: the price model and TF-IDF sizes chosen by the last full-profile run
 * (outputs/metrics.json, price_regression) refitted with and without the location columns, on
 * every product of the split notebook 00 wrote (data/clean).   npx tsx scripts/price_location_gain.ts
 */
import { openDataset } from '../src/data/dataset';
import { hasUsablePrice } from '../src/data/listings';
import { locationGain, LinearModelSpec } from '../src/geo/location_features';
import { readMetrics } from '../src/metrics_store';
import { PriceFeaturiser, pricedRows } from '../src/models/price_features';

const chosen = readMetrics().price_regression as
  { model: LinearModelSpec['model']; alpha: number; l1_ratio: number | null; features: { title_tfidf?: number; description_tfidf?: number } } | undefined;
if (!chosen) throw new Error('outputs/metrics.json has no price_regression: run notebook 01 in the full profile first');
(async () => {
  const data = await openDataset({ maxProductsPerCategory: null });
  const priced = {
    train: pricedRows(data.productRows('train'), hasUsablePrice),
    val: pricedRows(data.productRows('val'), hasUsablePrice),
    test: pricedRows(data.productRows('test'), hasUsablePrice),
  };
  const structured = chosen.features.title_tfidf === undefined;
  const featuriser = new PriceFeaturiser(structured ? { titleTfidf: 0, descriptionTfidf: 0 }
    : { titleTfidf: chosen.features.title_tfidf, descriptionTfidf: chosen.features.description_tfidf }).fit(priced.train.rows);
  const X = { train: featuriser.transform(priced.train.rows), val: featuriser.transform(priced.val.rows), test: featuriser.transform(priced.test.rows) };
  const started = performance.now();
  const gain = locationGain({ model: chosen.model, alpha: chosen.alpha, l1Ratio: chosen.l1_ratio }, X,
    { train: priced.train.rows, val: priced.val.rows, test: priced.test.rows },
    { train: priced.train.logPrice, val: priced.val.logPrice, test: priced.test.logPrice });
  console.log(`${chosen.model} (alpha ${chosen.alpha}, l1 ratio ${chosen.l1_ratio}), ${featuriser.width} columns; ` +
    `${priced.train.rows.length}/${priced.val.rows.length}/${priced.test.rows.length} priced listings; fits ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const f = (v: number) => v.toFixed(4);
  console.log(`R² ln(price) without location: val ${f(gain.without.val_r2)}, test ${f(gain.without.test_r2)}`);
  console.log(`R² ln(price) with location:    val ${f(gain.with.val_r2)}, test ${f(gain.with.test_r2)}`);
  console.log(`change:                        val ${gain.delta.val_r2 >= 0 ? '+' : ''}${f(gain.delta.val_r2)}, test ${gain.delta.test_r2 >= 0 ? '+' : ''}${f(gain.delta.test_r2)}`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});

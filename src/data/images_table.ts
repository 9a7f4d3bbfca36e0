/**
 * Images.csv → image rows linked to cleaned listings (the table side only; whether each file
 * exists and decodes, and which files have no row, is the image module's job).
 *
 * An image row is identified by its image id, never by its product: a product has several
 * photos, and de-duplicating on product columns silently drops all but one photo of each
 * product. Only a row repeating an image id is a duplicate.
 */
import { CsvTable, readCsvFile } from './csv';
import { assertTableBalanced, malformedRows, QuarantinedRow, TableCleaningReport } from './listings';
import { ImageRow, Listing } from './types';

export const IMAGES_SOURCE = 'Images.csv';
export const IMAGE_COLUMNS = ['id', 'product_id'];

export type ImageQuarantineReason =
  | 'image_row_missing_id'
  | 'image_row_bad_id' // the id is a file name: anything but letters, digits, '-' and '_' could escape the folder
  | 'image_row_missing_product_id'
  | 'image_row_unknown_product' // product_id is not in Products.csv at all
  | 'image_row_quarantined_product' // product_id is in Products.csv but its row was quarantined
  | 'image_row_duplicate' // same image id and product as an earlier row
  | 'image_id_conflict'; // same image id under different products: which product it shows is unknown

export interface ImageTableCleaning {
  images: ImageRow[];
  report: TableCleaningReport;
}

export interface ProductIdSets {
  /** Ids of kept listings. */
  kept: Iterable<string>;
  /** Ids of quarantined products (to tell "quarantined" from "never existed"). */
  quarantined?: Iterable<string>;
}

/** Clean a parsed Images.csv table against the products that survived cleaning. */
export function cleanImageTable(table: CsvTable, products: ProductIdSets): ImageTableCleaning {
  const source = table.source;
  for (const column of IMAGE_COLUMNS) {
    if (!table.header.includes(column)) {
      throw new Error(`${source}: required column "${column}" is missing (header: ${table.header.join(', ')})`);
    }
  }
  const kept = new Set(products.kept);
  const quarantinedProducts = new Set(products.quarantined ?? []);

  const productsByImageId = new Map<string, Set<string>>();
  for (const { values } of table.records) {
    const id = values.id.trim();
    if (id === '') continue;
    const set = productsByImageId.get(id) ?? new Set<string>();
    set.add(values.product_id.trim());
    productsByImageId.set(id, set);
  }

  const images: ImageRow[] = [];
  const quarantinedRows: QuarantinedRow[] = malformedRows(table);
  const seen = new Set<string>();
  const quarantine = (line: number, id: string, reason: ImageQuarantineReason, field: string, detail: string) =>
    quarantinedRows.push({ source, line, id, reason, field, detail });

  for (const { line, values } of table.records) {
    const id = values.id.trim();
    const productId = values.product_id.trim();
    if (id === '') {
      quarantine(line, '', 'image_row_missing_id', 'id', 'image id is empty');
    } else if (!/^[A-Za-z0-9_-]+$/.test(id)) {
      quarantine(line, id, 'image_row_bad_id', 'id', 'image id is not a plain file name (letters, digits, - and _)');
    } else if (productId === '') {
      quarantine(line, id, 'image_row_missing_product_id', 'product_id', 'product_id is empty');
    } else if ((productsByImageId.get(id)?.size ?? 0) > 1) {
      quarantine(line, id, 'image_id_conflict', 'id', `image id is listed under ${productsByImageId.get(id)?.size} different products`);
    } else if (seen.has(id)) {
      quarantine(line, id, 'image_row_duplicate', 'id', 'exact repeat of an earlier row for this image');
    } else if (kept.has(productId)) {
      images.push({ id, productId });
    } else if (quarantinedProducts.has(productId)) {
      // (A kept id may also be on a quarantined copy, e.g. an exact duplicate row: kept wins above.)
      quarantine(line, id, 'image_row_quarantined_product', 'product_id', `product ${productId} was quarantined in Products.csv`);
    } else {
      quarantine(line, id, 'image_row_unknown_product', 'product_id', `product ${productId} is not in Products.csv`);
    }
    // A duplicate is only judged against rows that were kept, so mark the first copy as seen
    // even when it was quarantined: the copies share its fate under their own reason.
    if (id !== '') seen.add(id);
  }

  const quarantinedByReason: Record<string, number> = {};
  for (const row of quarantinedRows) quarantinedByReason[row.reason] = (quarantinedByReason[row.reason] ?? 0) + 1;
  const withImage = new Set(images.map((image) => image.productId));
  let productsWithoutImageRows = 0;
  for (const productId of kept) if (!withImage.has(productId)) productsWithoutImageRows++;
  const photoCounts = [...imagesByProduct(images).values()].map((ids) => ids.length);

  const report: TableCleaningReport = {
    source,
    rowsIn: table.records.length + table.quarantined.length,
    kept: images.length,
    quarantined: quarantinedRows.length,
    quarantinedByReason,
    flags: {},
    notes: {
      products_with_image_rows: withImage.size,
      products_without_image_rows: productsWithoutImageRows,
      most_images_for_one_product: photoCounts.length ? Math.max(...photoCounts) : 0,
    },
    quarantinedRows,
    encoding: table.encoding,
  };
  assertTableBalanced(report);
  return { images, report };
}

/** Read and clean Images.csv. */
export function cleanImagesFile(filePath: string, products: ProductIdSets): ImageTableCleaning {
  return cleanImageTable(readCsvFile(filePath, { requiredColumns: IMAGE_COLUMNS }), products);
}

/** Image ids per product, in file order. */
export function imagesByProduct(images: readonly ImageRow[]): Map<string, string[]> {
  const byProduct = new Map<string, string[]>();
  for (const image of images) {
    const ids = byProduct.get(image.productId);
    if (ids) ids.push(image.id);
    else byProduct.set(image.productId, [image.id]);
  }
  return byProduct;
}

/**
 * Set each listing's imageIds from the table (file checks may narrow them later) and flag
 * listings with no image row ('no_image_rows'): image stages skip them, text and price keep them.
 */
export function linkImagesToListings(listings: Listing[], images: readonly ImageRow[]): { withImages: number; withoutImages: number } {
  const byProduct = imagesByProduct(images);
  let withImages = 0;
  for (const listing of listings) {
    listing.imageIds = byProduct.get(listing.id)?.slice() ?? [];
    listing.flags = listing.flags.filter((f) => f !== 'no_image_rows');
    if (listing.imageIds.length > 0) withImages++;
    else listing.flags.push('no_image_rows');
  }
  return { withImages, withoutImages: listings.length - withImages };
}

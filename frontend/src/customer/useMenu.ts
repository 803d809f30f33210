import { useQuery } from "@tanstack/react-query";
import { fetchMenu } from "../api/customer";
import type { MenuItem } from "../api/types";

export const MENU_QUERY_KEY = ["menu"] as const;

export interface Menu {
  items: MenuItem[];
  byId: ReadonlyMap<string, MenuItem>;
}

function indexed(items: MenuItem[]): Menu {
  return { items, byId: new Map(items.map((item) => [item.id, item])) };
}

export function useMenu() {
  return useQuery({
    queryKey: MENU_QUERY_KEY,
    queryFn: ({ signal }) => fetchMenu(signal),
    staleTime: 30_000,
    select: indexed,
  });
}

/** Menu items by category, categories in the order they first appear. */
export function byCategory(items: readonly MenuItem[]): Array<[string, MenuItem[]]> {
  const groups = new Map<string, MenuItem[]>();
  for (const item of items) {
    const group = groups.get(item.category);
    if (group) group.push(item);
    else groups.set(item.category, [item]);
  }
  return [...groups];
}

import { allocate, balanceOf, type Allocation, type CreditGrant, type CreditMovement, type CreditState } from '../domain/credits.js';

interface Balance {
  /** The billing period the group's credits were loaded for (its recurring grant issued). */
  periodStart: number;
  grants: Map<string, CreditGrant>;
  debt: number;
}

/**
 * Groups' credits in one process: their grants with what each has used,
 * and their debt, spent synchronously by the rules of src/domain/credits.ts.
 * Loaded from the store the first time a group's credits are needed in a
 * period; what this process spends is counted here at once, and reaches
 * the store with the events that spent it.
 */
export class CreditBalances {
  private readonly groups = new Map<string, Balance>();

  /** Whether the group's credits are loaded for the period starting at `periodStart`. */
  loaded(groupId: string, periodStart: number): boolean {
    return this.groups.get(groupId)?.periodStart === periodStart;
  }

  /**
   * Takes in the store's view of a group's credits: grants not held here
   * are added, voided ones (absent from the state) dropped, and a grant
   * held here keeps what it has used here (which includes what the store
   * has not written yet). With `periodStart`, the state is loaded for that
   * period; without, it only updates a group already loaded.
   */
  merge(groupId: string, state: CreditState, periodStart?: number): void {
    const held = this.groups.get(groupId);
    if (held === undefined && periodStart === undefined) return;
    const grants = new Map(state.grants.map((g) => {
      const mine = held?.grants.get(g.id);
      return [g.id, mine === undefined ? { ...g } : { ...g, used: Math.max(g.used, mine.used) }] as const;
    }));
    this.groups.set(groupId, { periodStart: periodStart ?? held!.periodStart, grants, debt: held?.debt ?? state.debt });
  }

  /** How `charge` credits would be spread now, changing nothing (the group must be loaded). */
  plan(groupId: string, charge: number, now: number, mayOverdraw: boolean): Allocation {
    const balance = this.balance(groupId);
    return allocate([...balance.grants.values()], balance.debt, charge, now, { groupId, mayOverdraw });
  }

  /** Applies an allocation's movements (a charge), or their opposite (`sign` -1: credits given back). */
  apply(groupId: string, movements: readonly CreditMovement[], sign: 1 | -1 = 1): void {
    const balance = this.groups.get(groupId);
    if (balance === undefined) return;
    for (const m of movements) {
      if (m.kind === 'debt') balance.debt = Math.max(0, balance.debt + sign * m.amount);
      else {
        const grant = balance.grants.get(m.grantId);
        if (grant !== undefined) grant.used = Math.max(0, grant.used + sign * m.amount);
      }
    }
  }

  /** The group's balance at `now` (the group must be loaded). */
  balanceAt(groupId: string, now: number): number {
    const balance = this.balance(groupId);
    return balanceOf([...balance.grants.values()], balance.debt, now);
  }

  forget(groupId: string): void {
    this.groups.delete(groupId);
  }

  private balance(groupId: string): Balance {
    const balance = this.groups.get(groupId);
    if (balance === undefined) throw new Error(`the credits of group "${groupId}" are not loaded`);
    return balance;
  }
}

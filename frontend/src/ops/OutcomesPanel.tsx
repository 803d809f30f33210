import { BarChart } from "./BarChart";
import { outcomeSummary, reasonBars, reasonSummary, statusBars } from "./outcomes";
import type { Outcomes } from "./types";
import { Section } from "./ui";

export function OutcomesPanel({ outcomes }: { outcomes: Outcomes | null }) {
  return (
    <Section
      id="outcomes"
      title="Saga outcomes"
      description={outcomes ? outcomeSummary(outcomes) : "Loading…"}
    >
      {outcomes && (
        <div className="grid gap-6">
          <BarChart
            title="Orders by current status"
            bars={statusBars(outcomes)}
            summary={outcomeSummary(outcomes)}
            valueHeader="Orders"
          />
          <BarChart
            title="Cancelled orders by reason"
            bars={reasonBars(outcomes)}
            summary={reasonSummary(outcomes)}
            valueHeader="Orders"
          />
        </div>
      )}
    </Section>
  );
}

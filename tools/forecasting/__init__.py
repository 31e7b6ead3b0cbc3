"""Forecasting: a frozen statistical backbone plus a gated correction learned from signals in text.

The backbone (AutoETS by AICc, seasonal-naive as the floor) is fitted once on a
series' history and never refitted by the correction. Context text (holidays,
promotions, event notes, the retailer's best-selling product lines) becomes
structured signals per date; a ridge model learns the backbone's residual from
those signals and the backbone's own forecast; a gate learned on past origins
decides, per horizon step, how much of that correction to apply.
"""

-- Key parameters of two more supervised hazardous processes checked against published copies
-- of 《首批重点监管的危险化工工艺安全控制要求、重点监控参数及推荐的控制方案》
-- (annex of 安监总管三〔2009〕116号); see docs/hazard-monitoring.md, "Process parameter lists:
-- sources". Migration 0026 checked 1 光气, 2 电解, 4 硝化 and 18 偶氮化; this one checks
-- 12 胺基化 and 13 磺化, the only further processes whose 重点监控工艺参数 could be read in full
-- in the stored search corpora. The other twelve stay as 0023 entered them (checked_against
-- NULL).
--
-- Same rules as 0026: rows are renamed in place, never deleted (registry.hazard_point
-- .parameter_id references them); a rename whose new name an administrator already entered is
-- skipped; one measurable quantity a row, a subject named once for several quantities is
-- repeated, "等" is dropped. On an existing database the audit triggers log these changes with
-- the database user as actor (sql/definitions/audit.sql).

UPDATE registry.process_parameter pp
SET name = v.new_name
FROM (VALUES
    -- 12 胺基化: "(1)胺基化反应釜内温度、压力。(2)胺基化反应釜内搅拌速率。(3)物料流量。
    --   (4)反应物质的配料比。(5)气相氧含量等。"
    (12, '胺基化反应釜搅拌速率', '胺基化反应釜内搅拌速率'),
    (12, '反应物质配料比', '反应物质的配料比'),
    -- 13 磺化: "磺化反应釜内温度；磺化反应釜内搅拌速率；磺化剂流量；冷却水流量。"
    (13, '磺化反应釜搅拌速率', '磺化反应釜内搅拌速率')
) AS v (process_id, old_name, new_name)
WHERE pp.process_id = v.process_id
  AND pp.name = v.old_name
  AND NOT EXISTS (SELECT 1 FROM registry.process_parameter x
                  WHERE x.process_id = v.process_id AND x.name = v.new_name);

-- A published quantity still missing (an administrator had renamed or removed the old row, so
-- the rename above found nothing) is added at its place in the text; on a database migrated
-- from 0023 nothing is missing and this inserts no row.
INSERT INTO registry.process_parameter (process_id, ord, name)
SELECT v.process_id, v.ord, v.name
FROM (VALUES
    (12, 1, '胺基化反应釜内温度'),
    (12, 2, '胺基化反应釜内压力'),
    (12, 3, '胺基化反应釜内搅拌速率'),
    (12, 4, '物料流量'),
    (12, 5, '反应物质的配料比'),
    (12, 6, '气相氧含量'),
    (13, 1, '磺化反应釜内温度'),
    (13, 2, '磺化反应釜内搅拌速率'),
    (13, 3, '磺化剂流量'),
    (13, 4, '冷却水流量')
) AS v (process_id, ord, name)
WHERE NOT EXISTS (SELECT 1 FROM registry.process_parameter x
                  WHERE x.process_id = v.process_id AND x.name = v.name);

-- Where the list was checked and the control text where a copy was complete. The 胺基化 copy
-- gives 安全控制的基本要求 in full (its 宜采用的控制方式 is cut off: NULL); the 磺化 copy masks
-- words of its control texts and is cut off: both NULL. A text an administrator already
-- entered is kept (the register wins).
UPDATE registry.hazardous_process p
SET control_requirements = coalesce(p.control_requirements, v.requirements),
    control_methods = coalesce(p.control_methods, v.methods),
    checked_against = v.source
FROM (VALUES
    (12,
     '(1)反应釜温度和压力的报警和联锁。(2)反应物料的比例控制和联锁系统。(3)紧急冷却系统。'
     '(4)气相氧含量监控联锁系统。(5)紧急送入惰性气体的系统。(6)紧急停车系统。(7)安全泄放系统。'
     '(8)可燃和有毒气体检测报警装置等。',
     NULL,
     'http://www.830687.com/exam/detail-5180368.html'),
    (13,
     NULL,
     NULL,
     'http://www.jantom.com.cn/x-gas_Article_11339631.html')
) AS v (id, requirements, methods, source)
WHERE p.id = v.id;

-- Key parameters of the supervised hazardous processes checked against published copies of
-- the official texts (docs/hazard-monitoring.md, "Process parameter lists: sources"):
-- 《首批重点监管的危险化工工艺安全控制要求、重点监控参数及推荐的控制方案》(安监总管三〔2009〕116号)
-- and the annex of 安监总管三〔2013〕3号. Migration 0023 entered the lists from memory; this one
-- corrects the processes whose text could be read (1 光气, 2 电解, 4 硝化, 18 偶氮化) and
-- leaves the others as they were, unverified (checked_against stays NULL for them).
--
-- Rows are renamed in place, never deleted: registry.hazard_point.parameter_id references
-- them, so a point keeps its parameter under the corrected name. Each row is still one
-- measurable quantity; where the text names several quantities of one subject ("反应釜温度、
-- 压力") the subject is repeated per row, in the text's own wording and order.
-- On an existing database the audit triggers log these changes with the database user as
-- actor (sql/definitions/audit.sql).

-- Reference text the hazard-unit page and GET /api/v1/processes show: 安全控制的基本要求 and
-- 宜采用的控制方式 as the annex words them, and where the parameter list was checked.
ALTER TABLE registry.hazardous_process
    ADD COLUMN control_requirements text CHECK (length(btrim(control_requirements)) > 0),
    ADD COLUMN control_methods      text CHECK (length(btrim(control_methods)) > 0),
    ADD COLUMN checked_against      text CHECK (length(btrim(checked_against)) > 0);

COMMENT ON COLUMN registry.hazardous_process.control_requirements IS
    '安全控制的基本要求, wording of the published annex; NULL where not verified';
COMMENT ON COLUMN registry.hazardous_process.control_methods IS
    '宜采用的控制方式, wording of the published annex; NULL where not verified';
COMMENT ON COLUMN registry.hazardous_process.checked_against IS
    'Address of the published text the parameter list was compared with; NULL: not checked';

-- A rename is skipped when an administrator already entered the corrected name (the unique
-- (process_id, name) would refuse it) or changed the old one: the register wins.
UPDATE registry.process_parameter pp
SET name = v.new_name
FROM (VALUES
    -- 1 光气: "一氧化碳、氯气含水量；反应釜温度、压力；反应物质的配料比；光气进料速度；
    --   冷却系统中冷却介质的温度、压力、流量等。" The water content of CO and Cl2, not
    --   their content, is the monitored quantity (wet chlorine corrodes, phosgene hydrolyses).
    (1, '一氧化碳含量', '一氧化碳含水量'),
    (1, '氯气含量', '氯气含水量'),
    (1, '反应物质配料比', '反应物质的配料比'),
    (1, '冷却介质温度', '冷却系统中冷却介质的温度'),
    (1, '冷却介质压力', '冷却系统中冷却介质的压力'),
    (1, '冷却介质流量', '冷却系统中冷却介质的流量'),
    -- 2 电解（氯碱）: "电解槽内液位；电解槽内电流和电压；电解槽进出物料流量；可燃和有毒
    --   气体浓度；电解槽的温度和压力；原料中铵含量；氯气杂质含量（水、氢气、氧气、三氯化氮
    --   等）等。"
    (2, '电解槽液位', '电解槽内液位'),
    (2, '电解槽电流', '电解槽内电流'),
    (2, '电解槽电压', '电解槽内电压'),
    (2, '电解槽温度', '电解槽的温度'),
    (2, '电解槽压力', '电解槽的压力'),
    (2, '氯气杂质含量', '氯气杂质含量（水、氢气、氧气、三氯化氮等）'),
    -- 4 硝化: "硝化反应釜内温度、搅拌速率；硝化剂流量；冷却水流量；pH值；硝化产物中杂质
    --   含量；精馏分离系统温度；塔釜杂质含量等。"
    (4, '硝化反应釜搅拌速率', '硝化反应釜内搅拌速率'),
    -- 18 偶氮化: "(1)偶氮化反应釜内温度、压力、液位、pH。(2)偶氮化反应釜内搅拌速率。
    --   (3)肼流量。(4)反应物质的配料比。(5)后处理单元温度等。"
    (18, 'pH值', '偶氮化反应釜内pH值'),
    (18, '偶氮化反应釜搅拌速率', '偶氮化反应釜内搅拌速率'),
    (18, '反应物质配料比', '反应物质的配料比')
) AS v (process_id, old_name, new_name)
WHERE pp.process_id = v.process_id
  AND pp.name = v.old_name
  AND NOT EXISTS (SELECT 1 FROM registry.process_parameter x
                  WHERE x.process_id = v.process_id AND x.name = v.new_name);

-- The control texts, where the published copy was complete (the others stay NULL until
-- someone enters them from the original). Sources as in the comment at the top.
UPDATE registry.hazardous_process p
SET control_requirements = v.requirements,
    control_methods = v.methods,
    checked_against = v.source
FROM (VALUES
    (1,
     '事故紧急切断阀；紧急冷却系统；反应釜温度、压力报警联锁；局部排风设施；有毒气体回收及处理'
     '系统；自动泄压装置；自动氨或碱液喷淋装置；光气、氯气、一氧化碳监测及超限报警；双电源供电。',
     '光气及光气化生产系统一旦出现异常现象或发生光气及其剧毒产品泄漏事故时，应通过自控联锁装置'
     '启动紧急停车并自动切断所有进出生产装置的物料，将反应装置迅速冷却降温，同时将发生事故设备内'
     '的剧毒物料导入事故槽内，开启氨水、稀碱液喷淋，启动通风排毒系统，将事故部位的有毒气体排至'
     '处理系统。',
     'https://www.39baobao.com/show/39_132586.html'),
    (2,
     '电解槽温度、压力、液位、流量报警和联锁；电解供电整流装置与电解槽供电的报警和联锁；紧急联锁'
     '切断装置；事故状态下氯气吸收中和系统；可燃和有毒气体检测报警装置等。',
     NULL,
     'https://m.examw.com/aq/anli/fudao/917829'),
    (4,
     NULL,
     NULL,
     'http://www.5252w.com/huagongAnquan/zhongdiangongyi/zhongdiangongyi_read_KS.asp?nameid=4'),
    (18,
     '(1)反应釜温度和压力的报警和联锁。(2)反应物料的比例控制和联锁系统。(3)紧急冷却系统。'
     '(4)紧急停车系统。(5)安全泄放系统。(6)后处理单元配置温度监测、惰性气体保护的联锁装置等。',
     NULL,
     'http://www.5252w.com/huagongAnquan/zhongdiangongyi/zhongdiangongyi_read_KS.asp?nameid=18')
) AS v (id, requirements, methods, source)
WHERE p.id = v.id;


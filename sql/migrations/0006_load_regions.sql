-- R1, R9: Shanxi province and its 11 prefecture-level cities, with their GB/T 2260 codes.
-- Counties and parks are added by administrators as enterprises are registered.
INSERT INTO registry.region (code, name, level, parent_id)
VALUES ('140000', '山西省', 'province', NULL);

INSERT INTO registry.region (code, name, level, parent_id)
SELECT c.code, c.name, 'city', p.id
FROM (VALUES
        ('140100', '太原市'), ('140200', '大同市'), ('140300', '阳泉市'), ('140400', '长治市'),
        ('140500', '晋城市'), ('140600', '朔州市'), ('140700', '晋中市'), ('140800', '运城市'),
        ('140900', '忻州市'), ('141000', '临汾市'), ('141100', '吕梁市')
     ) AS c (code, name)
CROSS JOIN registry.region p
WHERE p.code = '140000';
